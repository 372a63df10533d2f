package dev.peridot.virtio.defaults;

import dev.peridot.virtio.device.ConfigOperations;
import dev.peridot.virtio.device.FeatureOperations;
import dev.peridot.virtio.device.VirtioDevice;
import dev.peridot.virtio.feature.Feature;
import java.util.Collection;
import org.osgi.annotation.versioning.ProviderType;

/**
 * The default operations as an OSGi service. A device component that references it is
 * deactivated when this bundle stops and activated again when it starts, so its devices go
 * away and come back with it.
 */
@ProviderType
public interface DefaultOperations {

    /** 'Default Config Operations' for {@code device}. */
    ConfigOperations configOperations(VirtioDevice device);

    /** 'Default Feature Operations' for {@code device} with its device-type features. */
    FeatureOperations featureOperations(VirtioDevice device, Collection<? extends Feature> deviceFeatures);
}
