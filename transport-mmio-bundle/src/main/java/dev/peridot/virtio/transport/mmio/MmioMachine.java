package dev.peridot.virtio.transport.mmio;

import dev.peridot.virtio.device.ConfigOperations;
import dev.peridot.virtio.device.LifeCycleOperations;
import dev.peridot.virtio.device.RunOperations;
import dev.peridot.virtio.memory.GuestMemory;
import dev.peridot.virtio.memory.SegmentGuestMemory;
import dev.peridot.virtio.transport.mmio.internal.MmioDeviceConfigSpace;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The MMIO transport without OSGi: guest RAM, a row of slots, devices bound to them, and the
 * interrupt sinks. The DS component of this bundle wraps one; tests and embedders use it
 * directly.
 *
 * <p>Slots are chosen per device name: a name given a slot with {@link #assign} gets that slot;
 * a name seen before gets its earlier slot back (stable across unbind and rebind); otherwise
 * the lowest free slot. Binding and unbinding are synchronized on the machine; register
 * accesses are not.
 */
public final class MmioMachine implements MmioBus, AutoCloseable {

    private static final System.Logger LOG = System.getLogger(MmioMachine.class.getName());

    /** A sink and the slot or device it wants (null: every slot). */
    private record SinkEntry(DriverNotificationSink sink, Integer slot, String deviceName) {
        boolean wants(int s, String name) {
            return (slot == null || slot == s) && (deviceName == null || deviceName.equals(name));
        }
    }

    private final MmioLayout layout;
    private final GuestMemory memory;
    private final SegmentGuestMemory ownedMemory;
    private final MmioDeviceConfigSpace[] windows;
    private final LifeCycleOperations[] lifeCycles;
    private final Map<String, Integer> assignedSlots = new HashMap<>();
    private final Map<String, Integer> rememberedSlots = new HashMap<>();
    private volatile SinkEntry[] sinks = new SinkEntry[0];
    private volatile long strayAccesses;

    /** A machine with {@code ramSize} bytes of zeroed RAM at {@code ramBase}. */
    public MmioMachine(MmioLayout layout, long ramBase, long ramSize) {
        this(layout, SegmentGuestMemory.allocate(ramBase, ramSize), true);
    }

    /** A machine over RAM the caller owns. */
    public MmioMachine(MmioLayout layout, GuestMemory memory) {
        this(layout, memory, false);
    }

    private MmioMachine(MmioLayout layout, GuestMemory memory, boolean owned) {
        this.layout = Objects.requireNonNull(layout, "layout");
        this.memory = Objects.requireNonNull(memory, "memory");
        this.ownedMemory = owned ? (SegmentGuestMemory) memory : null;
        this.windows = new MmioDeviceConfigSpace[layout.slots()];
        this.lifeCycles = new LifeCycleOperations[layout.slots()];
        for (int s = 0; s < windows.length; s++) {
            windows[s] = emptyWindow(s);
        }
    }

    private MmioDeviceConfigSpace emptyWindow(int slot) {
        return new MmioDeviceConfigSpace(slot, layout.base(slot), layout.windowSize(), layout.firstIrq() + slot,
                memory, this::route);
    }

    /** Gives the device named {@code name} slot {@code slot} whenever it is bound (configuration). */
    public synchronized void assign(String name, int slot) {
        if (slot < 0 || slot >= windows.length) {
            throw new IllegalArgumentException("no slot " + slot + " in " + layout);
        }
        assignedSlots.put(name, slot);
    }

    /**
     * Binds a device: picks its slot, attaches the device to it and returns the slot's window.
     *
     * @throws IllegalStateException if no slot is free, the name is bound already, or the device
     *                               is attached to another transport
     */
    public synchronized MmioDeviceAccess bind(String name, ConfigOperations config, RunOperations run,
                                              LifeCycleOperations lifeCycle) {
        Objects.requireNonNull(name, "name");
        if (device(name).isPresent()) {
            throw new IllegalStateException("a device named " + name + " is bound already");
        }
        int slot = chooseSlot(name);
        MmioDeviceConfigSpace window = emptyWindow(slot);
        window.bind(name, config, run);
        lifeCycle.attach(window);
        windows[slot] = window;
        lifeCycles[slot] = lifeCycle;
        rememberedSlots.put(name, slot);
        LOG.log(System.Logger.Level.INFO, "bound " + name + " (device " + config.deviceId() + ") to " + window);
        return window;
    }

    /** Binds a device that implements the three operation interfaces itself. */
    public <T extends ConfigOperations & RunOperations & LifeCycleOperations> MmioDeviceAccess bind(T device) {
        return bind(device.deviceName(), device, device, device);
    }

    private int chooseSlot(String name) {
        for (Integer preferred : new Integer[] {assignedSlots.get(name), rememberedSlots.get(name)}) {
            if (preferred != null && !windows[preferred].isBound()) {
                return preferred;
            }
        }
        for (int s = 0; s < windows.length; s++) {
            if (!windows[s].isBound() && !isReservedForOther(s, name)) {
                return s;
            }
        }
        throw new IllegalStateException("no free MMIO slot for " + name + " (" + windows.length + " slots)");
    }

    private boolean isReservedForOther(int slot, String name) {
        for (Map.Entry<String, Integer> e : assignedSlots.entrySet()) {
            if (e.getValue() == slot && !e.getKey().equals(name)) {
                return true;
            }
        }
        return false;
    }

    /**
     * Unbinds the device named {@code name}: its window reads as an empty slot at once, then the
     * device is detached (its worker stops, in-flight buffers are dropped). Does nothing if no
     * such device is bound.
     */
    public synchronized void unbind(String name) {
        for (int s = 0; s < windows.length; s++) {
            if (windows[s].isBound() && windows[s].deviceName().equals(name)) {
                MmioDeviceConfigSpace old = windows[s];
                LifeCycleOperations lifeCycle = lifeCycles[s];
                windows[s] = emptyWindow(s);
                lifeCycles[s] = null;
                old.unbind();
                try {
                    lifeCycle.detach();
                } catch (RuntimeException e) {
                    LOG.log(System.Logger.Level.ERROR, "detaching " + name + " failed", e);
                }
                LOG.log(System.Logger.Level.INFO, "unbound " + name + " from MMIO slot " + s);
                return;
            }
        }
    }

    /** Adds an interrupt sink for one slot, one device, or (both null) every slot. */
    public synchronized void addSink(DriverNotificationSink sink, Integer slot, String deviceName) {
        List<SinkEntry> list = new ArrayList<>(List.of(sinks));
        list.add(new SinkEntry(Objects.requireNonNull(sink, "sink"), slot, deviceName));
        sinks = list.toArray(new SinkEntry[0]);
    }

    /** Removes a sink; it receives nothing more once this returns. */
    public synchronized void removeSink(DriverNotificationSink sink) {
        List<SinkEntry> list = new ArrayList<>(List.of(sinks));
        list.removeIf(e -> e.sink() == sink);
        sinks = list.toArray(new SinkEntry[0]);
    }

    private void route(MmioDeviceConfigSpace source, int slot, int irq, boolean asserted, int status) {
        String name = source.deviceName();
        for (SinkEntry entry : sinks) {
            if (entry.wants(slot, name)) {
                try {
                    entry.sink().interruptChanged(slot, irq, asserted, status);
                } catch (RuntimeException e) {
                    LOG.log(System.Logger.Level.WARNING, "interrupt sink failed for slot " + slot, e);
                }
            }
        }
    }

    @Override
    public int read(long address, int width) {
        int s = layout.slotOf(address);
        if (s < 0) {
            strayAccesses++;
            return 0;
        }
        return windows[s].read((int) (address - layout.base(s)), width);
    }

    @Override
    public void write(long address, int width, int value) {
        int s = layout.slotOf(address);
        if (s < 0) {
            strayAccesses++;
            return;
        }
        windows[s].write((int) (address - layout.base(s)), width, value);
    }

    @Override
    public GuestMemory guestMemory() {
        return memory;
    }

    @Override
    public MmioLayout layout() {
        return layout;
    }

    @Override
    public MmioDeviceAccess slot(int slot) {
        return windows[slot];
    }

    @Override
    public Optional<MmioDeviceAccess> device(String name) {
        for (MmioDeviceConfigSpace w : windows) {
            if (w.isBound() && w.deviceName().equals(name)) {
                return Optional.of(w);
            }
        }
        return Optional.empty();
    }

    @Override
    public List<MmioDeviceAccess> boundSlots() {
        List<MmioDeviceAccess> list = new ArrayList<>();
        for (MmioDeviceConfigSpace w : windows) {
            if (w.isBound()) {
                list.add(w);
            }
        }
        return list;
    }

    @Override
    public long strayAccesses() {
        return strayAccesses;
    }

    /** Unbinds every device and frees the RAM this machine allocated. */
    @Override
    public synchronized void close() {
        for (MmioDeviceConfigSpace w : windows.clone()) {
            if (w.isBound()) {
                unbind(w.deviceName());
            }
        }
        if (ownedMemory != null) {
            ownedMemory.close();
        }
    }
}
