package dev.peridot.virtio.shell.internal;

import dev.peridot.virtio.device.ConfigOperations;
import dev.peridot.virtio.device.FeatureOperations;
import dev.peridot.virtio.device.LifeCycleOperations;
import dev.peridot.virtio.device.VirtioDeviceProperties;
import dev.peridot.virtio.transport.mmio.MmioDeviceAccess;
import dev.peridot.virtio.transport.mmio.MmioProperties;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import org.osgi.framework.BundleContext;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.framework.ServiceReference;

/**
 * Finds devices by name among the registered operation services, with their MMIO window when
 * the MMIO transport bound them. Looked up on every command, so the shell always shows the
 * current services (devices come and go with their bundles).
 */
final class DeviceDirectory {

    /** A device as the shell sees it. */
    record Device(String name, ConfigOperations config, FeatureOperations features, LifeCycleOperations lifeCycle,
                  Optional<MmioDeviceAccess> mmio) {
    }

    private final BundleContext context;

    DeviceDirectory(BundleContext context) {
        this.context = context;
    }

    /** Every device that registers all operation interfaces, by name. */
    List<Device> all() {
        List<Device> devices = new ArrayList<>();
        for (ServiceReference<LifeCycleOperations> ref : references(null)) {
            device(ref).ifPresent(devices::add);
        }
        devices.sort(Comparator.comparing(Device::name));
        return devices;
    }

    /** The device named {@code name}. */
    Device find(String name) {
        List<ServiceReference<LifeCycleOperations>> refs = references(name);
        for (ServiceReference<LifeCycleOperations> ref : refs) {
            Optional<Device> d = device(ref);
            if (d.isPresent()) {
                return d.get();
            }
        }
        throw new IllegalArgumentException("no device named '" + name + "'; try virtio:list");
    }

    /** The MMIO window of slot {@code slot}, if a device is bound there. */
    Optional<MmioDeviceAccess> slot(int slot) {
        try {
            for (ServiceReference<MmioDeviceAccess> ref : context.getServiceReferences(MmioDeviceAccess.class,
                    "(" + MmioProperties.SLOT + "=" + slot + ")")) {
                MmioDeviceAccess access = context.getService(ref);
                if (access != null) {
                    context.ungetService(ref);
                    return Optional.of(access);
                }
            }
        } catch (InvalidSyntaxException e) {
            throw new IllegalStateException(e);
        }
        return Optional.empty();
    }

    private List<ServiceReference<LifeCycleOperations>> references(String name) {
        try {
            String filter = name == null ? null : "(" + VirtioDeviceProperties.DEVICE_NAME + "=" + escape(name) + ")";
            return new ArrayList<>(context.getServiceReferences(LifeCycleOperations.class, filter));
        } catch (InvalidSyntaxException e) {
            throw new IllegalArgumentException("invalid device name: " + name);
        }
    }

    private Optional<Device> device(ServiceReference<LifeCycleOperations> ref) {
        LifeCycleOperations life = context.getService(ref);
        if (life == null) {
            return Optional.empty();
        }
        context.ungetService(ref);
        Object nameProperty = ref.getProperty(VirtioDeviceProperties.DEVICE_NAME);
        String name = nameProperty instanceof String s ? s : life.deviceName();
        // Usually one object is registered under every operation interface (VD01 §4), but a
        // device may register them separately: look each up by the device's name.
        ConfigOperations config = life instanceof ConfigOperations c ? c : service(ConfigOperations.class, name);
        FeatureOperations features = life instanceof FeatureOperations f ? f : service(FeatureOperations.class, name);
        if (config == null || features == null) {
            return Optional.empty();
        }
        return Optional.of(new Device(name, config, features, life, mmio(name)));
    }

    private <T> T service(Class<T> type, String name) {
        try {
            for (ServiceReference<T> ref : context.getServiceReferences(type,
                    "(" + VirtioDeviceProperties.DEVICE_NAME + "=" + escape(name) + ")")) {
                T service = context.getService(ref);
                if (service != null) {
                    context.ungetService(ref);
                    return service;
                }
            }
        } catch (InvalidSyntaxException e) {
            return null;
        }
        return null;
    }

    private Optional<MmioDeviceAccess> mmio(String name) {
        return Optional.ofNullable(service(MmioDeviceAccess.class, name));
    }

    private static String escape(String value) {
        return value.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").replace("*", "\\*");
    }
}
