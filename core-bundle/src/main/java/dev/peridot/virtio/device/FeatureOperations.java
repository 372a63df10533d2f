package dev.peridot.virtio.device;

import dev.peridot.virtio.feature.Feature;
import dev.peridot.virtio.feature.FeatureSet;
import java.util.List;
import java.util.Optional;

/**
 * 'Feature Operations' (VD01 §4.3, {@code virtio_device_feature_ops}): features by ID, offered
 * and negotiated, for components that should not know how feature bits are encoded — the
 * shell, a transport that names features in its log, the device itself.
 *
 * <p>The common (reserved) bits are served by 'Default Feature Operations'; a specific device
 * only adds its own bits.
 */
public interface FeatureOperations {

    /** The feature this device knows under {@code bit}: a device-specific or a reserved one. */
    Optional<Feature> feature(int bit);

    /** Every feature this device knows by name, device-specific first. */
    List<Feature> knownFeatures();

    /** The features the device offers. */
    FeatureSet offered();

    /** The features negotiated with the driver; empty until FEATURES_OK has been accepted. */
    FeatureSet negotiated();

    /** Whether the device offers the bit. */
    default boolean isOffered(int bit) {
        return offered().contains(bit);
    }

    /** Whether the bit was negotiated. */
    default boolean isNegotiated(int bit) {
        return negotiated().contains(bit);
    }

    /** Whether the device offers the feature. */
    default boolean isOffered(Feature feature) {
        return isOffered(feature.bit());
    }

    /** Whether the feature was negotiated. */
    default boolean isNegotiated(Feature feature) {
        return isNegotiated(feature.bit());
    }

    /** The name of a bit: the feature's name, or {@code bit N} for a bit nobody defines. */
    default String name(int bit) {
        return feature(bit).map(Feature::name).orElse("bit " + bit);
    }

    /** The offered features, named. */
    default List<Feature> offeredFeatures() {
        return offered().features(b -> feature(b).orElse(null));
    }

    /** The negotiated features, named. */
    default List<Feature> negotiatedFeatures() {
        return negotiated().features(b -> feature(b).orElse(null));
    }
}
