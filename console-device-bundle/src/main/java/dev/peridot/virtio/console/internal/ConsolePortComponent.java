package dev.peridot.virtio.console.internal;

import dev.peridot.virtio.console.ConsoleConstants;
import dev.peridot.virtio.console.PortSpec;
import dev.peridot.virtio.console.VirtioConsole;
import java.util.Map;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;
import org.osgi.service.metatype.annotations.Option;

/**
 * One port per factory configuration (PID {@value ConsoleConstants#PORT_FACTORY_PID}). The
 * component references its console's {@link VirtioConsole} service (the reference's target is the
 * configuration property {@value ConsoleConstants#PORT_CONSOLE_TARGET}, by default
 * {@code (virtio.device.name=console0)}), adds the port when it activates and removes it when it
 * deactivates. Declarative Services does the bookkeeping: a port configuration that arrives
 * before its console waits for it, and when a console goes away and comes back (its
 * configuration changes, the default-operations bundle restarts) its ports are added again.
 * A configuration with {@code id=0} reconfigures port 0 for as long as it exists.
 */
@Component(configurationPid = ConsoleConstants.PORT_FACTORY_PID, configurationPolicy = ConfigurationPolicy.REQUIRE,
        immediate = true, service = {})
@Designate(ocd = ConsolePortComponent.Config.class, factory = true)
public final class ConsolePortComponent {

    private static final System.Logger LOG = System.getLogger(ConsolePortComponent.class.getName());

    @ObjectClassDefinition(name = "Peridot Virtio console port",
            description = "A port of a virtio console (multiport). Creating the configuration hot-plugs the port, deleting it "
                    + "unplugs it.")
    public @interface Config {

        @AttributeDefinition(name = "Console", description = "Filter selecting the console: (virtio.device.name=NAME).")
        String console_target() default "(virtio.device.name=console0)";

        @AttributeDefinition(name = "Port id", description = "1 to max_nr_ports - 1; -1 = the lowest free; 0 reconfigures port 0.")
        int id() default -1;

        @AttributeDefinition(name = "Name", description = "PORT_NAME: Linux shows /dev/virtio-ports/NAME. Empty for none.")
        String name() default "";

        @AttributeDefinition(name = "Console port", description = "Send CONSOLE_PORT: Linux makes the port an hvc console.")
        boolean console() default false;

        @AttributeDefinition(name = "Backend", options = {@Option(value = "memory"), @Option(value = "tcp"),
                @Option(value = "unix"), @Option(value = "file"), @Option(value = "stdio")})
        String backend() default "memory";

        @AttributeDefinition(name = "TCP host", description = "tcp: address to listen on or connect to.")
        String tcp_host() default "127.0.0.1";

        @AttributeDefinition(name = "TCP port", description = "tcp: port; 0 = ephemeral (server, shown by console:ports).")
        int tcp_port() default 0;

        @AttributeDefinition(name = "Server", description = "tcp/unix: listen (true) or connect (false).")
        boolean server() default true;

        @AttributeDefinition(name = "Wait", description = "tcp/unix server: add the port to the guest only after the first client connected.")
        boolean $wait() default false;

        @AttributeDefinition(name = "Reconnect (ms)", description = "tcp/unix client: retry interval; 0 = no reconnect.")
        long reconnect_ms() default 0;

        @AttributeDefinition(name = "Socket path", description = "unix: the socket's path.")
        String path() default "";

        @AttributeDefinition(name = "Output file", description = "file: where guest output goes.")
        String file_output() default "";

        @AttributeDefinition(name = "Input file", description = "file: sent to the guest once; empty for none.")
        String file_input() default "";

        @AttributeDefinition(name = "Append", description = "file: append instead of truncating.")
        boolean file_append() default false;

        @AttributeDefinition(name = "Standard input", description = "stdio: read standard input too.")
        boolean stdio_input() default false;

        @AttributeDefinition(name = "Host-to-guest buffer", description = "Bytes.")
        int buffer_to_guest() default 64 * 1024;

        @AttributeDefinition(name = "Guest-to-host buffer", description = "Bytes.")
        int buffer_from_guest() default 256 * 1024;

        @AttributeDefinition(name = "Overflow", description = "backpressure or drop_oldest.",
                options = {@Option(value = "backpressure"), @Option(value = "drop_oldest")})
        String overflow() default "backpressure";
    }

    private final VirtioConsole console;
    private final int id;

    @Activate
    public ConsolePortComponent(Map<String, Object> properties,
                                @Reference(name = "console", target = "(virtio.device.name=console0)") VirtioConsole console) {
        this.console = console;
        int added = -1;
        try {
            PortSpec spec = new ConfigReader(properties).port(PortSpec.AUTO_ID, false);
            added = console.addPort(spec);
            LOG.log(System.Logger.Level.INFO, console.deviceName() + ": port " + added + " from configuration "
                    + properties.get("service.pid"));
        } catch (IllegalArgumentException | IllegalStateException e) {
            // A configuration the console cannot take (no MULTIPORT, id taken, bad backend): say so
            // once, clearly, and stay inactive rather than failing the component with a stack trace.
            LOG.log(System.Logger.Level.WARNING, console.deviceName() + ": port configuration "
                    + properties.get("service.pid") + " not added: " + e.getMessage());
        }
        this.id = added;
    }

    /** The port number this component added. */
    public int portId() {
        return id;
    }

    @Deactivate
    void deactivate() {
        if (id < 0) {
            return;
        }
        try {
            console.removePort(id);
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, console.deviceName() + ": removing port " + id + " failed", e);
        }
    }
}
