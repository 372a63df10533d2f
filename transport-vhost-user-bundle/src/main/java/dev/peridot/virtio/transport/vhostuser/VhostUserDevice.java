package dev.peridot.virtio.transport.vhostuser;

import dev.peridot.virtio.device.ConfigOperations;
import dev.peridot.virtio.device.LifeCycleOperations;
import dev.peridot.virtio.device.RunOperations;
import java.util.Objects;

/**
 * The operation interfaces of one device, as a transport needs them: 'Config Operations' and
 * 'Run Operations' to play the driver's part, 'Life Cycle Operations' to attach the device.
 * In OSGi they are the device's registered services; in plain Java, usually the device itself
 * (it implements Run and Life Cycle Operations) and its 'Default Config Operations'.
 */
public record VhostUserDevice(ConfigOperations config, RunOperations run, LifeCycleOperations lifeCycle) {

    public VhostUserDevice {
        Objects.requireNonNull(config, "config");
        Objects.requireNonNull(run, "run");
        Objects.requireNonNull(lifeCycle, "lifeCycle");
    }

    /** The device's name ({@link LifeCycleOperations#deviceName()}). */
    public String name() {
        return lifeCycle.deviceName();
    }
}
