package dev.peridot.virtio.transport.mmio.internal;

import dev.peridot.virtio.device.ConfigOperations;
import dev.peridot.virtio.device.LifeCycleOperations;
import dev.peridot.virtio.device.RunOperations;
import dev.peridot.virtio.device.VirtioDeviceProperties;
import dev.peridot.virtio.memory.GuestMemory;
import dev.peridot.virtio.transport.mmio.DriverNotificationSink;
import dev.peridot.virtio.transport.mmio.MmioBus;
import dev.peridot.virtio.transport.mmio.MmioDeviceAccess;
import dev.peridot.virtio.transport.mmio.MmioLayout;
import dev.peridot.virtio.transport.mmio.MmioMachine;
import dev.peridot.virtio.transport.mmio.MmioProperties;
import java.util.Dictionary;
import java.util.HashMap;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceReference;
import org.osgi.framework.ServiceRegistration;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Modified;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.metatype.annotations.Designate;

/**
 * The MMIO transport as a DS component: one {@link MmioMachine}, published as {@link MmioBus};
 * binds every device whose operation services appear (filtered to {@code virtio.transport=mmio}
 * or no transport property), publishes an {@link MmioDeviceAccess} per bound device, and routes
 * interrupts to the {@link DriverNotificationSink} whiteboard.
 *
 * <p>A configuration change (PID {@code dev.peridot.virtio.mmio}) restarts the component: every
 * device is unbound and bound again with the new layout.
 */
@Component(service = MmioBus.class, immediate = true, configurationPid = MmioTransportComponent.PID)
@Designate(ocd = MmioTransportConfig.class)
public final class MmioTransportComponent implements MmioBus {

    public static final String PID = "dev.peridot.virtio.mmio";
    private static final System.Logger LOG = System.getLogger(MmioTransportComponent.class.getName());

    private final BundleContext context;
    private volatile MmioMachine machine;
    private MmioTransportConfig config;
    private final Map<ServiceReference<?>, Bound> bound = new HashMap<>();
    private final Map<ServiceReference<RunOperations>, RunOperations> runs = new HashMap<>();
    private final Map<ServiceReference<ConfigOperations>, ConfigOperations> configs = new HashMap<>();
    private final Map<DriverNotificationSink, Map<String, Object>> sinks = new java.util.IdentityHashMap<>();
    private boolean active = true;

    private record Bound(String name, RunOperations run, ConfigOperations config,
                         ServiceRegistration<MmioDeviceAccess> registration) {
    }

    @Activate
    public MmioTransportComponent(BundleContext context, MmioTransportConfig config) {
        this.context = context;
        this.config = config;
        this.machine = newMachine(config);
    }

    private static MmioMachine newMachine(MmioTransportConfig config) {
        MmioLayout layout = layout(config);
        MmioMachine created = new MmioMachine(layout, Long.decode(config.ram_base().trim()), (long) config.ram_size_mb() << 20);
        assignSlots(created, config);
        LOG.log(System.Logger.Level.INFO, "MMIO transport up: " + layout + ", RAM " + created.guestMemory());
        return created;
    }

    private static MmioLayout layout(MmioTransportConfig config) {
        return new MmioLayout(Long.decode(config.base_address().trim()), config.window_size(), config.first_irq(),
                config.slots());
    }

    private static void assignSlots(MmioMachine machine, MmioTransportConfig config) {
        for (String assignment : config.slot_assignments()) {
            int eq = assignment.indexOf('=');
            if (eq <= 0) {
                LOG.log(System.Logger.Level.WARNING, "slot assignment '" + assignment + "' is not name=slot; ignored");
                continue;
            }
            machine.assign(assignment.substring(0, eq).trim(), Integer.parseInt(assignment.substring(eq + 1).trim()));
        }
    }

    /**
     * A configuration update. Same layout and RAM: only new slot assignments are taken (they
     * apply at the next bind), the bound devices keep running — File Install, for one, updates a
     * configuration right after creating it. A new layout or RAM: every device is unbound, the
     * machine is rebuilt and every device bound again (drivers must start over).
     */
    @Modified
    synchronized void modified(MmioTransportConfig updated) {
        boolean sameMachine = layout(updated).equals(layout(config)) && updated.ram_base().equals(config.ram_base())
                && updated.ram_size_mb() == config.ram_size_mb();
        config = updated;
        if (sameMachine) {
            assignSlots(machine, updated);
            return;
        }
        Map<ServiceReference<RunOperations>, RunOperations> devices = new HashMap<>(runs);
        for (ServiceReference<RunOperations> ref : devices.keySet()) {
            unbindDevice(ref);
        }
        machine.close();
        machine = newMachine(updated);
        sinks.forEach((sink, properties) -> addSink(machine, sink, properties));
        devices.forEach(this::bindDevice);
    }

    private static final String TRANSPORT_FILTER = "(|(!(" + VirtioDeviceProperties.TRANSPORT + "=*))("
            + VirtioDeviceProperties.TRANSPORT + "=mmio))";

    /**
     * A device's RunOperations service. Usually the same object is registered under every
     * operation interface; a device may also register its ConfigOperations as a separate service
     * with the same {@code virtio.device.name}. It is bound as soon as both are there, in either order.
     */
    @Reference(service = RunOperations.class, cardinality = ReferenceCardinality.MULTIPLE,
            policy = ReferencePolicy.DYNAMIC, target = TRANSPORT_FILTER)
    synchronized void bindDevice(ServiceReference<RunOperations> reference, RunOperations run) {
        runs.put(reference, run);
        tryBind(reference, run);
    }

    @Reference(service = ConfigOperations.class, cardinality = ReferenceCardinality.MULTIPLE,
            policy = ReferencePolicy.DYNAMIC, target = TRANSPORT_FILTER)
    synchronized void bindConfig(ServiceReference<ConfigOperations> reference, ConfigOperations config) {
        configs.put(reference, config);
        String name = nameOf(reference);
        runs.forEach((ref, run) -> {
            if (!bound.containsKey(ref) && name != null && name.equals(nameOf(ref))) {
                tryBind(ref, run);
            }
        });
    }

    synchronized void unbindConfig(ServiceReference<ConfigOperations> reference) {
        ConfigOperations config = configs.remove(reference);
        for (Map.Entry<ServiceReference<?>, Bound> e : List.copyOf(bound.entrySet())) {
            if (e.getValue().config() == config) {
                @SuppressWarnings("unchecked")
                ServiceReference<RunOperations> r = (ServiceReference<RunOperations>) e.getKey();
                RunOperations run = runs.get(r);
                unbindDevice(r);
                if (run != null) {
                    runs.put(r, run); // Still registered: bound again when its configuration comes back.
                }
            }
        }
    }

    private static String nameOf(ServiceReference<?> reference) {
        Object name = reference.getProperty(VirtioDeviceProperties.DEVICE_NAME);
        return name instanceof String s && !s.isBlank() ? s : null;
    }

    private void tryBind(ServiceReference<RunOperations> reference, RunOperations run) {
        if (!active || bound.containsKey(reference)) {
            return;
        }
        if (!(run instanceof LifeCycleOperations lifeCycle)) {
            LOG.log(System.Logger.Level.WARNING, "device service " + reference
                    + " does not implement LifeCycleOperations; not bound");
            return;
        }
        String name = nameOf(reference) != null ? nameOf(reference) : lifeCycle.deviceName();
        ConfigOperations config = run instanceof ConfigOperations c ? c : configFor(name);
        if (config == null) {
            return; // Its ConfigOperations service has not been registered yet.
        }
        try {
            MmioDeviceAccess access = machine.bind(name, config, run, lifeCycle);
            Dictionary<String, Object> props = new Hashtable<>();
            props.put(MmioProperties.SLOT, access.slot());
            props.put(MmioProperties.BASE, access.baseAddress());
            props.put(MmioProperties.SIZE, access.windowSize());
            props.put(MmioProperties.IRQ, access.irq());
            props.put(MmioProperties.DEVICE_ID, config.deviceId());
            props.put(MmioProperties.DEVICE_NAME, name);
            bound.put(reference, new Bound(name, run, config, context.registerService(MmioDeviceAccess.class, access, props)));
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.ERROR, "cannot bind device " + name + " to MMIO", e);
        }
    }

    private ConfigOperations configFor(String name) {
        for (Map.Entry<ServiceReference<ConfigOperations>, ConfigOperations> e : configs.entrySet()) {
            if (name.equals(nameOf(e.getKey()))) {
                return e.getValue();
            }
        }
        return null;
    }

    synchronized void unbindDevice(ServiceReference<RunOperations> reference) {
        runs.remove(reference);
        Bound b = bound.remove(reference);
        if (b == null) {
            return;
        }
        try {
            b.registration().unregister();
        } catch (IllegalStateException alreadyGone) {
            // The framework is stopping.
        }
        machine.unbind(b.name());
    }

    @Reference(service = DriverNotificationSink.class, cardinality = ReferenceCardinality.MULTIPLE,
            policy = ReferencePolicy.DYNAMIC)
    synchronized void bindSink(DriverNotificationSink sink, Map<String, Object> properties) {
        sinks.put(sink, properties);
        addSink(machine, sink, properties);
    }

    private static void addSink(MmioMachine target, DriverNotificationSink sink, Map<String, Object> properties) {
        Object slot = properties.get(MmioProperties.SLOT);
        Object name = properties.get(MmioProperties.DEVICE_NAME);
        target.addSink(sink, slot instanceof Number n ? n.intValue() : null, name instanceof String s ? s : null);
    }

    synchronized void unbindSink(DriverNotificationSink sink) {
        sinks.remove(sink);
        machine.removeSink(sink);
    }

    @Deactivate
    synchronized void deactivate() {
        active = false;
        for (ServiceReference<?> reference : List.copyOf(bound.keySet())) {
            @SuppressWarnings("unchecked")
            ServiceReference<RunOperations> r = (ServiceReference<RunOperations>) reference;
            unbindDevice(r);
        }
        machine.close();
    }

    @Override
    public int read(long address, int width) {
        return machine.read(address, width);
    }

    @Override
    public void write(long address, int width, int value) {
        machine.write(address, width, value);
    }

    @Override
    public GuestMemory guestMemory() {
        return machine.guestMemory();
    }

    @Override
    public MmioLayout layout() {
        return machine.layout();
    }

    @Override
    public MmioDeviceAccess slot(int slot) {
        return machine.slot(slot);
    }

    @Override
    public Optional<MmioDeviceAccess> device(String name) {
        return machine.device(name);
    }

    @Override
    public List<MmioDeviceAccess> boundSlots() {
        return machine.boundSlots();
    }

    @Override
    public long strayAccesses() {
        return machine.strayAccesses();
    }
}
