package dev.peridot.virtio.console;

/**
 * Configuration Admin PIDs and property names of the console bundle. A console device is a
 * factory configuration of {@link #CONSOLE_FACTORY_PID}; each extra port is a factory
 * configuration of {@link #PORT_FACTORY_PID} that names its console with
 * {@link #PORT_CONSOLE_TARGET}. Creating a port configuration adds the port (hot-plug to a
 * running guest), deleting it removes the port.
 */
public final class ConsoleConstants {

    /** Factory PID of a console device. */
    public static final String CONSOLE_FACTORY_PID = "dev.peridot.virtio.console";
    /** Factory PID of a port of a console device. */
    public static final String PORT_FACTORY_PID = "dev.peridot.virtio.console.port";
    /**
     * The property of a port configuration that selects its console: an LDAP filter on the
     * console's service, normally {@code (virtio.device.name=NAME)}; see {@link #consoleTarget}.
     * (It is the Declarative Services target of the port component's {@code console} reference.)
     */
    public static final String PORT_CONSOLE_TARGET = "console.target";
    /** The device name property of a {@link VirtioConsole} service (the same as {@code virtio.device.name}). */
    public static final String DEVICE_NAME = "virtio.device.name";
    /** The device ID of a console (spec 5.3.1). */
    public static final int DEVICE_ID = 3;
    /** The largest {@code max_nr_ports} this implementation accepts (as QEMU: 2 * (511 + 1) = 1024 queues). */
    public static final int MAX_PORTS_LIMIT = 511;

    private ConsoleConstants() {
    }

    /** The {@link #PORT_CONSOLE_TARGET} value that selects the console named {@code consoleName}. */
    public static String consoleTarget(String consoleName) {
        return "(" + DEVICE_NAME + "=" + consoleName + ")";
    }
}
