package dev.peridot.virtio.defaults;

import dev.peridot.virtio.device.FeatureOperations;
import dev.peridot.virtio.device.VirtioDevice;
import dev.peridot.virtio.feature.Feature;
import dev.peridot.virtio.feature.FeatureSet;
import dev.peridot.virtio.feature.ReservedFeature;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * 'Default Feature Operations' ({@code default_virtio_device_feature_ops}, VD01 §5): features
 * of a {@link VirtioDevice} by ID. The reserved (device-independent) bits are named here; a
 * specific device passes its own feature definitions and adds nothing else.
 */
public final class DefaultFeatureOperations implements FeatureOperations {

    private final VirtioDevice device;
    private final Feature[] deviceFeatures;
    private final List<Feature> known;

    /**
     * @param device         the device whose features are served
     * @param deviceFeatures the device-type features (for the console: SIZE, MULTIPORT,
     *                       EMERG_WRITE); their bits must lie in a device-type range
     */
    public DefaultFeatureOperations(VirtioDevice device, Collection<? extends Feature> deviceFeatures) {
        this.device = Objects.requireNonNull(device, "device");
        this.deviceFeatures = deviceFeatures.toArray(new Feature[0]);
        for (Feature f : this.deviceFeatures) {
            if (!ReservedFeature.isDeviceTypeBit(f.bit())) {
                throw new IllegalArgumentException(f.name() + ": bit " + f.bit() + " is not in a device-type range");
            }
        }
        List<Feature> all = new ArrayList<>(List.of(this.deviceFeatures));
        all.addAll(List.of(ReservedFeature.values()));
        this.known = List.copyOf(all);
    }

    /** Operations for a device that has no device-type features of its own. */
    public DefaultFeatureOperations(VirtioDevice device) {
        this(device, List.of());
    }

    @Override
    public Optional<Feature> feature(int bit) {
        for (Feature f : deviceFeatures) {
            if (f.bit() == bit) {
                return Optional.of(f);
            }
        }
        return ReservedFeature.ofBit(bit).map(Feature.class::cast);
    }

    @Override
    public List<Feature> knownFeatures() {
        return known;
    }

    @Override
    public FeatureSet offered() {
        return device.presentedFeatures();
    }

    @Override
    public FeatureSet negotiated() {
        return device.negotiatedFeatures();
    }
}
