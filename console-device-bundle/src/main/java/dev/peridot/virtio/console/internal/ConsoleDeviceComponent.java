package dev.peridot.virtio.console.internal;

import dev.peridot.virtio.console.ConsoleConstants;
import dev.peridot.virtio.console.ConsoleFeature;
import dev.peridot.virtio.console.VirtioConsole;
import dev.peridot.virtio.defaults.DefaultOperations;
import dev.peridot.virtio.device.ConfigOperations;
import dev.peridot.virtio.device.FeatureOperations;
import dev.peridot.virtio.device.LifeCycleOperations;
import dev.peridot.virtio.device.RunOperations;
import dev.peridot.virtio.device.VirtioDeviceProperties;
import java.util.ArrayList;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Modified;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;
import org.osgi.service.metatype.annotations.Option;

/**
 * One console device per factory configuration (PID {@value ConsoleConstants#CONSOLE_FACTORY_PID}).
 * It registers the device under 'Run Operations', 'Life Cycle Operations', 'Config Operations'
 * (the device, which delegates the raw feature words to the default operations) and
 * {@link VirtioConsole}, and the default 'Feature Operations' with the console's features, each
 * with {@code virtio.device.name}, {@code virtio.device.id}=3 and {@code virtio.transport}.
 *
 * <p>The mandatory static reference to {@link DefaultOperations} means that stopping the
 * default-operations bundle takes every console away (and starting it brings them back).
 * If port 0's backend is a server with {@code wait}, the services are registered only once the
 * first client has connected (so the transport binds the device then, as QEMU holds the VM).
 */
@Component(configurationPid = ConsoleConstants.CONSOLE_FACTORY_PID, configurationPolicy = ConfigurationPolicy.REQUIRE,
        immediate = true, service = {})
@Designate(ocd = ConsoleDeviceComponent.Config.class, factory = true)
public final class ConsoleDeviceComponent {

    private static final System.Logger LOG = System.getLogger(ConsoleDeviceComponent.class.getName());

    @ObjectClassDefinition(name = "Peridot Virtio console device",
            description = "A virtio-console device (ID 3, spec 5.3). Property names use dots (max.nr.ports); the same names "
                    + "with underscores are accepted.")
    public @interface Config {

        @AttributeDefinition(name = "Name", description = "The device's name (virtio.device.name), unique among devices.")
        String name() default "console0";

        @AttributeDefinition(name = "Maximum ports", description = "max_nr_ports, 1 to 511. More than 1 needs MULTIPORT.")
        int max_nr_ports() default 1;

        @AttributeDefinition(name = "VIRTIO_CONSOLE_F_SIZE", description = "Offer the console size (cols/rows, resize).")
        boolean f_size() default true;

        @AttributeDefinition(name = "VIRTIO_CONSOLE_F_MULTIPORT",
                description = "Offer multiple ports and the control queues: auto (when max.nr.ports > 1), true or false.",
                options = {@Option(value = "auto"), @Option(value = "true"), @Option(value = "false")})
        String f_multiport() default "auto";

        @AttributeDefinition(name = "VIRTIO_CONSOLE_F_EMERG_WRITE", description = "Offer emergency write (emerg_wr).")
        boolean f_emerg_write() default true;

        @AttributeDefinition(name = "VIRTIO_F_EVENT_IDX", description = "Offer used/available event suppression.")
        boolean event_idx() default true;

        @AttributeDefinition(name = "VIRTIO_F_INDIRECT_DESC", description = "Offer indirect descriptors.")
        boolean indirect_desc() default true;

        @AttributeDefinition(name = "VIRTIO_F_RING_RESET", description = "Offer the reset of single queues.")
        boolean ring_reset() default true;

        @AttributeDefinition(name = "Columns", description = "Initial console width (port 0 and console ports).")
        int cols() default 80;

        @AttributeDefinition(name = "Rows", description = "Initial console height.")
        int rows() default 25;

        @AttributeDefinition(name = "RESIZE field order", description = "cols_rows (the spec) or rows_cols (older Linux guests).",
                options = {@Option(value = "cols_rows"), @Option(value = "rows_cols")})
        String resize_order() default "cols_rows";

        @AttributeDefinition(name = "Queue size", description = "QueueNumMax of every queue (a power of 2).")
        int queue_size() default 256;

        @AttributeDefinition(name = "Transport", description = "Which transport binds the device (virtio.transport).",
                options = {@Option(value = "mmio"), @Option(value = "vhost-user")})
        String transport() default "mmio";

        @AttributeDefinition(name = "Port 0 name", description = "PORT_NAME of port 0 (multiport guests); empty for none.")
        String port0_name() default "";

        @AttributeDefinition(name = "Port 0 is a console", description = "Send CONSOLE_PORT for port 0 (multiport guests).")
        boolean port0_console() default true;

        @AttributeDefinition(name = "Port 0 backend", options = {@Option(value = "memory"), @Option(value = "tcp"),
                @Option(value = "unix"), @Option(value = "file"), @Option(value = "stdio")})
        String port0_backend() default "memory";

        @AttributeDefinition(name = "Port 0 TCP host", description = "tcp: address to listen on or connect to.")
        String port0_tcp_host() default "127.0.0.1";

        @AttributeDefinition(name = "Port 0 TCP port", description = "tcp: port; 0 = ephemeral (server).")
        int port0_tcp_port() default 0;

        @AttributeDefinition(name = "Port 0 server", description = "tcp/unix: listen (true) or connect (false).")
        boolean port0_server() default true;

        @AttributeDefinition(name = "Port 0 wait", description = "tcp/unix server: register the device only after the first client connected.")
        boolean port0_wait() default false;

        @AttributeDefinition(name = "Port 0 reconnect (ms)", description = "tcp/unix client: retry interval; 0 = no reconnect.")
        long port0_reconnect_ms() default 0;

        @AttributeDefinition(name = "Port 0 socket path", description = "unix: the socket's path.")
        String port0_path() default "";

        @AttributeDefinition(name = "Port 0 output file", description = "file: where guest output goes.")
        String port0_file_output() default "";

        @AttributeDefinition(name = "Port 0 input file", description = "file: sent to the guest once; empty for none.")
        String port0_file_input() default "";

        @AttributeDefinition(name = "Port 0 append", description = "file: append instead of truncating.")
        boolean port0_file_append() default false;

        @AttributeDefinition(name = "Port 0 stdin", description = "stdio: read standard input too.")
        boolean port0_stdio_input() default false;

        @AttributeDefinition(name = "Port 0 host-to-guest buffer", description = "Bytes.")
        int port0_buffer_to_guest() default 64 * 1024;

        @AttributeDefinition(name = "Port 0 guest-to-host buffer", description = "Bytes.")
        int port0_buffer_from_guest() default 256 * 1024;

        @AttributeDefinition(name = "Port 0 overflow", description = "backpressure (nothing is lost; the guest waits) or "
                + "drop_oldest (log-only: the oldest buffered output is discarded and counted).",
                options = {@Option(value = "backpressure"), @Option(value = "drop_oldest")})
        String port0_overflow() default "backpressure";
    }

    private final BundleContext context;
    private final DefaultOperations defaults;
    private final List<ServiceRegistration<?>> registrations = new ArrayList<>();
    private ConsoleDevice device;
    private FeatureOperations features;
    private Hashtable<String, Object> serviceProperties;
    private ConsoleOptions options;
    private String transport;
    private boolean active = true;

    @Activate
    public ConsoleDeviceComponent(BundleContext context, Map<String, Object> properties,
                                  @Reference DefaultOperations defaults) {
        this.context = context;
        this.defaults = defaults;
        start(properties);
    }

    /** Builds the device from the configuration and registers it once port 0 may be presented. */
    private synchronized void start(Map<String, Object> properties) {
        options = ConfigReader.console(properties);
        transport = new ConfigReader(properties).string("transport", "mmio");
        ConsoleDevice created = new ConsoleDevice(options, defaults::configOperations);
        device = created;
        features = defaults.featureOperations(created, List.of(ConsoleFeature.values()));
        serviceProperties = new Hashtable<>();
        serviceProperties.put(VirtioDeviceProperties.DEVICE_NAME, created.deviceName());
        serviceProperties.put(VirtioDeviceProperties.DEVICE_ID, ConsoleDevice.DEVICE_ID);
        serviceProperties.put(VirtioDeviceProperties.TRANSPORT, transport);
        if (!created.port0Presentable().isDone()) {
            LOG.log(System.Logger.Level.INFO, "console " + created.deviceName() + " waits for a client on "
                    + created.port(0).map(p -> p.backendDescription()).orElse("port 0"));
        }
        created.port0Presentable().thenRun(() -> register(created));
    }

    /**
     * A configuration update. File Install, for one, adds its own property right after creating
     * a configuration: a change that leaves the device's options and transport as they are keeps
     * the device (and the guest's driver) running; any other change rebuilds it, which the
     * transport sees as the device going away and coming back.
     */
    @Modified
    synchronized void modified(Map<String, Object> properties) {
        ConsoleOptions updated = ConfigReader.console(properties);
        String updatedTransport = new ConfigReader(properties).string("transport", "mmio");
        if (updated.equals(options) && updatedTransport.equals(transport)) {
            return;
        }
        LOG.log(System.Logger.Level.INFO, "console " + device.deviceName() + ": configuration changed, rebuilding");
        stop();
        start(properties);
    }

    private synchronized void register(ConsoleDevice created) {
        if (!active || created != device || !registrations.isEmpty()) {
            return;
        }
        Hashtable<String, Object> props = new Hashtable<>(serviceProperties);
        created.port(0).filter(p -> p.backendType().equals("tcp") || p.backendType().equals("unix"))
                .ifPresent(p -> props.put("peridot.endpoint", created.deviceName() + " port 0: " + p.backendDescription()));
        registrations.add(context.registerService(new String[] {RunOperations.class.getName(),
                LifeCycleOperations.class.getName(), ConfigOperations.class.getName(), VirtioConsole.class.getName()},
                created, props));
        registrations.add(context.registerService(FeatureOperations.class, features, serviceProperties));
        LOG.log(System.Logger.Level.INFO, "console " + created.deviceName() + " registered for transport "
                + serviceProperties.get(VirtioDeviceProperties.TRANSPORT) + ": " + created.maxPorts() + " port(s), features "
                + features.offeredFeatures() + ", port 0 " + created.port(0).map(p -> p.backendDescription()).orElse("?"));
    }

    /** Unregisters the services (the transport unbinds the device) and closes the device. */
    private synchronized void stop() {
        for (ServiceRegistration<?> registration : registrations) {
            try {
                registration.unregister();
            } catch (IllegalStateException e) {
                // Already unregistered because the bundle is stopping.
            }
        }
        registrations.clear();
        device.detach(); // Normally the transport has detached it already; detach is idempotent.
        device.close();
    }

    /** The device (for inspection and tests). */
    public synchronized ConsoleDevice device() {
        return device;
    }

    @Deactivate
    synchronized void deactivate() {
        active = false;
        stop();
    }
}
