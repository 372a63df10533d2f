package dev.peridot.virtio.defaults.internal;

import dev.peridot.virtio.defaults.DefaultConfigOperations;
import dev.peridot.virtio.defaults.DefaultFeatureOperations;
import dev.peridot.virtio.defaults.DefaultOperations;
import dev.peridot.virtio.device.ConfigOperations;
import dev.peridot.virtio.device.FeatureOperations;
import dev.peridot.virtio.device.VirtioDevice;
import dev.peridot.virtio.feature.Feature;
import java.util.Collection;
import org.osgi.service.component.annotations.Component;

/** Registers {@link DefaultOperations}. Stateless: each call makes operations bound to one device. */
@Component(service = DefaultOperations.class)
public final class DefaultOperationsComponent implements DefaultOperations {

    @Override
    public ConfigOperations configOperations(VirtioDevice device) {
        return new DefaultConfigOperations(device);
    }

    @Override
    public FeatureOperations featureOperations(VirtioDevice device, Collection<? extends Feature> deviceFeatures) {
        return new DefaultFeatureOperations(device, deviceFeatures);
    }
}
