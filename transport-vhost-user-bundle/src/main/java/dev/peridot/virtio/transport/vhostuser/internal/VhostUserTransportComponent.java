package dev.peridot.virtio.transport.vhostuser.internal;

import dev.peridot.virtio.device.ConfigOperations;
import dev.peridot.virtio.device.LifeCycleOperations;
import dev.peridot.virtio.device.RunOperations;
import dev.peridot.virtio.device.VirtioDeviceProperties;
import dev.peridot.virtio.transport.vhostuser.VhostUserBackend;
import dev.peridot.virtio.transport.vhostuser.VhostUserDevice;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.osgi.framework.BundleContext;
import org.osgi.framework.Constants;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.framework.ServiceEvent;
import org.osgi.framework.ServiceListener;
import org.osgi.framework.ServiceReference;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/**
 * One vhost-user socket for one device, from a factory configuration with PID
 * {@value #PID} ({@code device.name}, {@code socket.path}). The component waits for the
 * device's 'Run Operations', 'Config Operations' and 'Life Cycle Operations' services — those
 * registered with {@code virtio.device.name} equal to {@code device.name} and
 * {@code virtio.transport=vhost-user} — and serves the socket while all three are there. A device
 * bundle that goes away takes its back-end with it; when it comes back, the socket is served
 * again (hot deploy).
 */
@Component(configurationPid = VhostUserTransportComponent.PID, configurationPolicy = ConfigurationPolicy.REQUIRE,
        immediate = true)
@Designate(ocd = VhostUserTransportComponent.Config.class, factory = true)
public final class VhostUserTransportComponent {

    public static final String PID = "dev.peridot.virtio.vhostuser";
    public static final String TRANSPORT_NAME = "vhost-user";

    private static final System.Logger LOG = System.getLogger(VhostUserTransportComponent.class.getName());

    @ObjectClassDefinition(name = "Peridot Virtio vhost-user socket",
            description = "Serves one registered virtio device to a vhost-user front-end (QEMU) on a Unix socket.")
    public @interface Config {

        @AttributeDefinition(name = "Device name",
                description = "The virtio.device.name of the device to serve; the device must be registered with "
                        + "virtio.transport=vhost-user.")
        String device_name();

        @AttributeDefinition(name = "Socket path",
                description = "Where to create the Unix socket QEMU connects to (-chardev socket,path=...).")
        String socket_path();
    }

    private final String deviceName;
    private final Path socketPath;
    private final BundleContext context;
    private final String filter;
    private final ServiceListener listener;
    private VhostUserBackend backend;
    private List<ServiceReference<?>> bound = List.of();

    @Activate
    public VhostUserTransportComponent(BundleContext context, Config config) throws InvalidSyntaxException {
        this.context = context;
        this.deviceName = require(config.device_name(), "device.name");
        this.socketPath = Path.of(require(config.socket_path(), "socket.path"));
        this.filter = String.format("(&(|(objectClass=%s)(objectClass=%s)(objectClass=%s))(%s=%s)(%s=%s))",
                RunOperations.class.getName(), ConfigOperations.class.getName(), LifeCycleOperations.class.getName(),
                VirtioDeviceProperties.DEVICE_NAME, escape(deviceName), VirtioDeviceProperties.TRANSPORT, TRANSPORT_NAME);
        // A service that is unregistering is still in the registry while its event is delivered: leave it out.
        this.listener = event -> rebind(event.getType() == ServiceEvent.UNREGISTERING
                || event.getType() == ServiceEvent.MODIFIED_ENDMATCH ? event.getServiceReference() : null);
        context.addServiceListener(listener, filter);
        rebind(null);
    }

    private static String require(String value, String property) {
        if (value == null || value.isBlank()) {
            throw new IllegalArgumentException("configuration " + PID + " needs " + property);
        }
        return value.trim();
    }

    /** Escapes a value for an LDAP filter (RFC 1960). */
    static String escape(String value) {
        StringBuilder sb = new StringBuilder();
        for (char c : value.toCharArray()) {
            if (c == '\\' || c == '*' || c == '(' || c == ')') {
                sb.append('\\');
            }
            sb.append(c);
        }
        return sb.toString();
    }

    /** Starts the back-end when the device's three services are all there, stops it when one goes. */
    private synchronized void rebind(ServiceReference<?> leaving) {
        ServiceReference<?>[] all;
        try {
            all = context.getServiceReferences((String) null, filter);
        } catch (InvalidSyntaxException | IllegalStateException e) {
            all = null;
        }
        List<ServiceReference<?>> present = new ArrayList<>();
        if (all != null) {
            for (ServiceReference<?> ref : all) {
                if (!ref.equals(leaving)) {
                    present.add(ref);
                }
            }
        }
        ServiceReference<?> run = best(present, RunOperations.class);
        ServiceReference<?> config = best(present, ConfigOperations.class);
        ServiceReference<?> life = best(present, LifeCycleOperations.class);
        List<ServiceReference<?>> wanted = run == null || config == null || life == null ? List.of()
                : Arrays.asList(run, config, life);
        if (backend != null && !wanted.equals(bound)) {
            stopBackend();
        }
        if (backend == null && !wanted.isEmpty()) {
            startBackend(wanted);
        }
    }

    /** The highest-ranked reference registered under {@code type}. */
    private static ServiceReference<?> best(List<ServiceReference<?>> refs, Class<?> type) {
        ServiceReference<?> best = null;
        for (ServiceReference<?> ref : refs) {
            Object classes = ref.getProperty(Constants.OBJECTCLASS);
            if (classes instanceof String[] names && Arrays.asList(names).contains(type.getName())
                    && (best == null || ref.compareTo(best) > 0)) {
                best = ref;
            }
        }
        return best;
    }

    private void startBackend(List<ServiceReference<?>> refs) {
        List<ServiceReference<?>> got = new ArrayList<>();
        try {
            RunOperations run = (RunOperations) get(refs.get(0), got);
            ConfigOperations config = (ConfigOperations) get(refs.get(1), got);
            LifeCycleOperations life = (LifeCycleOperations) get(refs.get(2), got);
            if (run == null || config == null || life == null) {
                release(got);
                return;
            }
            backend = VhostUserBackend.start(socketPath, new VhostUserDevice(config, run, life));
            bound = refs;
        } catch (IOException | RuntimeException e) {
            release(got);
            LOG.log(System.Logger.Level.ERROR, "cannot serve device " + deviceName + " on " + socketPath + ": "
                    + e.getMessage());
        }
    }

    private Object get(ServiceReference<?> ref, List<ServiceReference<?>> got) {
        Object service = context.getService(ref);
        if (service != null) {
            got.add(ref);
        }
        return service;
    }

    private void release(List<ServiceReference<?>> refs) {
        for (ServiceReference<?> ref : refs) {
            try {
                context.ungetService(ref);
            } catch (IllegalStateException e) {
                // Our bundle is stopping: the framework releases everything anyway.
            }
        }
    }

    private void stopBackend() {
        VhostUserBackend b = backend;
        List<ServiceReference<?>> refs = bound;
        backend = null;
        bound = List.of();
        if (b != null) {
            b.close();
        }
        release(refs);
    }

    @Deactivate
    void deactivate() {
        try {
            context.removeServiceListener(listener);
        } catch (IllegalStateException e) {
            // The bundle context is no longer valid: the listener is gone with it.
        }
        synchronized (this) {
            stopBackend();
        }
    }

    /** The running back-end, if the device is present (for inspection). */
    public synchronized VhostUserBackend backend() {
        return backend;
    }
}
