package dev.peridot.virtio.testkit;

import static dev.peridot.virtio.transport.mmio.MmioRegisters.*;

import dev.peridot.virtio.device.DeviceStatus;
import dev.peridot.virtio.feature.FeatureSet;
import dev.peridot.virtio.feature.ReservedFeature;
import dev.peridot.virtio.memory.GuestMemory;
import dev.peridot.virtio.queue.SplitRing;
import dev.peridot.virtio.transport.mmio.DriverNotificationSink;
import dev.peridot.virtio.transport.mmio.MmioDeviceAccess;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * A virtio driver over one MMIO register window, doing what Linux's virtio_mmio and virtio core
 * do, in the same register order (the reference trace of Linux 6.1 with virtio_console):
 * <ol>
 *   <li>probe: MagicValue, Version, DeviceID, VendorID;</li>
 *   <li>reset (Status=0, and unlike Linux 6.1 the kit polls until Status reads 0, spec 2.4.2),
 *   ACKNOWLEDGE, DRIVER;</li>
 *   <li>features: DeviceFeaturesSel=1, DeviceFeatures, DeviceFeaturesSel=0, DeviceFeatures; then
 *   DriverFeaturesSel=1, DriverFeatures, DriverFeaturesSel=0, DriverFeatures; FEATURES_OK and a
 *   read back;</li>
 *   <li>per queue: QueueSel, QueueReady (must be 0), QueueNumMax, QueueNum, the three area
 *   address pairs (low then high), QueueReady=1;</li>
 *   <li>DRIVER_OK.</li>
 * </ol>
 * Interrupts arrive through {@link DriverNotificationSink} (register the driver as a sink for
 * its slot); without a sink the kit polls the window's line. {@link #handleInterrupt()} reads
 * InterruptStatus and acknowledges it, as Linux's vm_interrupt does.
 *
 * <p>The raw methods ({@link #read}, {@link #write}, {@link #rawRead}, {@link #rawWrite}) are for
 * hostile-driver tests. Not thread-safe: one test thread drives a device; interrupts may arrive
 * on any thread.
 */
public final class VirtioMmioDriver implements DriverNotificationSink {

    /** How long the kit waits for the device (reset to finish, an interrupt, a completion). */
    public static final long DEFAULT_TIMEOUT_MILLIS = 10_000;

    private final MmioDeviceAccess window;
    private final GuestMemory memory;
    private final GuestRamAllocator ram;
    private final Map<Integer, DriverQueue> queues = new HashMap<>();
    private FeatureSet negotiated = FeatureSet.EMPTY;
    private final Object interruptLock = new Object();
    private boolean lineAsserted;
    private long assertions;

    /**
     * @param window the device's register window
     * @param ram    where the driver allocates rings and buffers, inside {@code window.guestMemory()}
     */
    public VirtioMmioDriver(MmioDeviceAccess window, GuestRamAllocator ram) {
        this.window = window;
        this.memory = window.guestMemory();
        this.ram = ram;
    }

    /** The register window. */
    public MmioDeviceAccess window() {
        return window;
    }

    /** The guest memory rings and buffers live in. */
    public GuestMemory memory() {
        return memory;
    }

    /** The allocator the driver takes rings and buffers from. */
    public GuestRamAllocator ram() {
        return ram;
    }

    // ------------------------------------------------------------------ registers

    /** Reads a 32-bit register. */
    public int read(int offset) {
        return window.read(offset, 4);
    }

    /** Writes a 32-bit register. */
    public void write(int offset, int value) {
        window.write(offset, 4, value);
    }

    /** Raw access of any width at any offset (hostile mode). */
    public int rawRead(int offset, int width) {
        return window.read(offset, width);
    }

    /** Raw access of any width at any offset (hostile mode). */
    public void rawWrite(int offset, int width, int value) {
        window.write(offset, width, value);
    }

    // ------------------------------------------------------------------ initialization

    /** Reads the identification registers (spec 4.2.3.1.1). */
    public DeviceIdentity probe() {
        return new DeviceIdentity(read(MAGIC_VALUE), read(VERSION), read(DEVICE_ID), read(VENDOR_ID));
    }

    /**
     * Resets the device and waits until Status reads 0 (spec 2.4.2: the driver considers the
     * reset complete when it reads 0).
     *
     * @throws DriverException if Status does not read 0 in time
     */
    public void reset() {
        resetWithoutPolling();
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(DEFAULT_TIMEOUT_MILLIS);
        while (read(STATUS) != 0) {
            if (System.nanoTime() > deadline) {
                throw new DriverException("Status did not read 0 after a reset");
            }
            LockSupport.parkNanos(50_000);
        }
    }

    /** Writes Status=0 without waiting, as Linux 6.1's vm_reset does. Queue memory is kept until {@link #releaseQueues()}. */
    public void resetWithoutPolling() {
        write(STATUS, 0);
        negotiated = FeatureSet.EMPTY;
    }

    /** The device status. */
    public int status() {
        return read(STATUS);
    }

    /** Writes the status field. */
    public void setStatus(int status) {
        write(STATUS, status);
    }

    /** Reads Status and writes it back with {@code bits} added, as Linux's virtio_add_status does. */
    public void addStatus(int bits) {
        write(STATUS, read(STATUS) | bits);
    }

    /** The device's features, read window 1 then window 0 (Linux's order); {@code words} windows in all (2 for Linux). */
    public FeatureSet deviceFeatures(int words) {
        FeatureSet features = FeatureSet.EMPTY;
        for (int w = words - 1; w >= 0; w--) {
            write(DEVICE_FEATURES_SEL, w);
            features = features.withWord(w, read(DEVICE_FEATURES));
        }
        return features;
    }

    /** Writes the driver's features, window 1 then window 0 (Linux's order), and any higher window that has bits. */
    public void writeDriverFeatures(FeatureSet features) {
        for (int w = FeatureSet.WORDS - 1; w >= 0; w--) {
            if (w >= 2 && features.word(w) == 0) {
                continue;
            }
            write(DRIVER_FEATURES_SEL, w);
            write(DRIVER_FEATURES, features.word(w));
        }
    }

    /**
     * Feature negotiation (spec 3.1.1 steps 4-6): accepts {@code wanted} intersected with the
     * offer, sets FEATURES_OK and reads it back.
     *
     * @return whether the device accepted (FEATURES_OK stuck)
     */
    public boolean negotiate(FeatureSet wanted) {
        FeatureSet offered = deviceFeatures(2);
        FeatureSet accepted = wanted.intersection(offered);
        writeDriverFeatures(accepted);
        addStatus(DeviceStatus.FEATURES_OK);
        boolean ok = (read(STATUS) & DeviceStatus.FEATURES_OK) != 0;
        negotiated = ok ? accepted : FeatureSet.EMPTY;
        return ok;
    }

    /** The negotiated features (empty until {@link #negotiate} succeeded). */
    public FeatureSet negotiatedFeatures() {
        return negotiated;
    }

    /**
     * Sets up a queue as Linux's vm_setup_vq does: QueueSel, check QueueReady is 0, read
     * QueueNumMax, allocate a ring of {@code min(size, max)} (descriptor table, available ring,
     * used ring on a 4 KiB boundary), write QueueNum and the addresses, QueueReady=1.
     *
     * @throws DriverException if the queue does not exist (QueueNumMax 0) or is already ready
     */
    public DriverQueue setupQueue(int index, int size) {
        write(QUEUE_SEL, index);
        if (read(QUEUE_READY) != 0) {
            throw new DriverException("queue " + index + " is already ready");
        }
        int max = read(QUEUE_NUM_MAX);
        if (max == 0) {
            throw new DriverException("queue " + index + " is not available (QueueNumMax 0)");
        }
        int num = Math.min(size, max);
        DriverQueue queue = allocateQueue(index, num);
        write(QUEUE_NUM, num);
        writeAddress(QUEUE_DESC_LOW, queue.descriptorArea());
        writeAddress(QUEUE_DRIVER_LOW, queue.driverArea());
        writeAddress(QUEUE_DEVICE_LOW, queue.deviceArea());
        write(QUEUE_READY, 1);
        if (read(QUEUE_READY) != 1) {
            queue.releaseAll();
            throw new DriverException("device refused to enable queue " + index);
        }
        queues.put(index, queue);
        return queue;
    }

    /** Allocates a zeroed ring for queue {@code index} without telling the device (for hostile tests). */
    public DriverQueue allocateQueue(int index, int size) {
        if (!SplitRing.isValidSize(size)) {
            throw new IllegalArgumentException("queue size " + size);
        }
        long availOffset = SplitRing.descriptorTableBytes(size);
        long usedOffset = (availOffset + SplitRing.availRingBytes(size) + 4095) & ~4095L;
        long total = usedOffset + SplitRing.usedRingBytes(size);
        long block = ram.allocate(total, 4096);
        try {
            memory.write(block, new byte[(int) total], 0, (int) total);
        } catch (dev.peridot.virtio.memory.GuestMemoryException e) {
            throw new DriverException("ring outside guest memory: " + e.getMessage());
        }
        return new DriverQueue(this, memory, ram, index, size, block, block + availOffset, block + usedOffset, block,
                negotiated.contains(ReservedFeature.VIRTIO_F_EVENT_IDX));
    }

    /**
     * A driver view of a ring that already exists at the given addresses (for a replay that
     * programs the registers itself); {@code eventIdx} says whether VIRTIO_F_EVENT_IDX was
     * negotiated, which decides how the driver asks for interrupts and notifications.
     */
    public DriverQueue attachQueue(int index, int size, long desc, long avail, long used, boolean eventIdx) {
        DriverQueue queue = new DriverQueue(this, memory, ram, index, size, desc, avail, used, 0, eventIdx);
        queues.put(index, queue);
        return queue;
    }

    private void writeAddress(int lowRegister, long address) {
        write(lowRegister, (int) address);
        write(lowRegister + 4, (int) (address >>> 32));
    }

    /** Sets DRIVER_OK: the device is live. */
    public void driverOk() {
        addStatus(DeviceStatus.DRIVER_OK);
    }

    /**
     * The whole bring-up (spec 3.1.1 and the reference trace): probe, reset, ACKNOWLEDGE, DRIVER,
     * negotiate {@code wanted}, set up queues 0 to {@code queueCount - 1} of up to
     * {@code queueSize}, DRIVER_OK.
     *
     * @throws DriverException if the slot holds no virtio device, the features are refused or a queue fails
     */
    public List<DriverQueue> initialize(FeatureSet wanted, int queueCount, int queueSize) {
        DeviceIdentity id = probe();
        if (id.magic() != MAGIC || id.version() != VERSION_2 || id.deviceId() == 0) {
            throw new DriverException("not a virtio-mmio version 2 device: " + id);
        }
        releaseQueues();
        reset();
        addStatus(DeviceStatus.ACKNOWLEDGE);
        addStatus(DeviceStatus.DRIVER);
        if (!negotiate(wanted)) {
            throw new DriverException("device refused features " + wanted.intersection(deviceFeatures(2)));
        }
        List<DriverQueue> list = new ArrayList<>();
        for (int q = 0; q < queueCount; q++) {
            list.add(setupQueue(q, queueSize));
        }
        driverOk();
        return list;
    }

    /**
     * Unbinds as Linux does (virtio_dev_remove, vm_del_vqs): reset, then QueueReady=0 and a read
     * back for every queue, then the queues' memory is freed.
     */
    public void unbind() {
        reset();
        for (int index : List.copyOf(queues.keySet())) {
            write(QUEUE_SEL, index);
            write(QUEUE_READY, 0);
            if (read(QUEUE_READY) != 0) {
                throw new DriverException("queue " + index + " still ready after QueueReady=0");
            }
        }
        releaseQueues();
    }

    /** Frees every queue's ring and buffers (the device must not use them any more). */
    public void releaseQueues() {
        for (DriverQueue q : queues.values()) {
            q.releaseAll();
        }
        queues.clear();
    }

    /** The queue set up with {@code index}, or null. */
    public DriverQueue queue(int index) {
        return queues.get(index);
    }

    void notifyQueue(int index) {
        write(QUEUE_NOTIFY, index);
    }

    // ------------------------------------------------------------------ interrupts

    @Override
    public void interruptChanged(int slot, int irq, boolean asserted, int interruptStatus) {
        synchronized (interruptLock) {
            lineAsserted = asserted;
            if (asserted) {
                assertions++;
            }
            interruptLock.notifyAll();
        }
    }

    /** How often the line was asserted while this driver was a sink. */
    public long interruptCount() {
        synchronized (interruptLock) {
            return assertions;
        }
    }

    /** Waits until the interrupt line is asserted; false after {@code timeoutMillis}. */
    public boolean awaitInterrupt(long timeoutMillis) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        synchronized (interruptLock) {
            while (!lineAsserted && !window.interruptAsserted()) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                try {
                    // Bounded waits, so the kit also works without being registered as a sink.
                    interruptLock.wait(Math.max(1, Math.min(5, TimeUnit.NANOSECONDS.toMillis(left))));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return false;
                }
            }
            return true;
        }
    }

    /** The interrupt handler of Linux's virtio_mmio: read InterruptStatus, acknowledge it, return it. */
    public int handleInterrupt() {
        int status = read(INTERRUPT_STATUS);
        if (status != 0) {
            write(INTERRUPT_ACK, status);
        }
        return status;
    }

    /**
     * Harvests {@code queue} until at least {@code count} buffers came back, handling interrupts
     * in between.
     *
     * @throws DriverException if they do not arrive in time
     */
    public List<DriverQueue.Completion> awaitCompletions(DriverQueue queue, int count, long timeoutMillis) {
        List<DriverQueue.Completion> done = new ArrayList<>(queue.harvest());
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        while (done.size() < count) {
            long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
            if (left <= 0) {
                throw new DriverException("queue " + queue.index() + ": " + done.size() + " of " + count
                        + " buffers came back in time");
            }
            if (awaitInterrupt(Math.min(left, 10))) {
                handleInterrupt();
            }
            done.addAll(queue.harvest());
        }
        return done;
    }

    // ------------------------------------------------------------------ configuration space

    /** Reads {@code width} bytes of the device-specific configuration at {@code offset}. */
    public int readConfig(int offset, int width) {
        return window.read(CONFIG + offset, width);
    }

    /** Writes {@code width} bytes of the device-specific configuration at {@code offset}. */
    public void writeConfig(int offset, int width, int value) {
        window.write(CONFIG + offset, width, value);
    }

    /** ConfigGeneration. */
    public int configGeneration() {
        return read(CONFIG_GENERATION);
    }

    /** Reads configuration fields consistently: repeats {@code reader} until the generation is stable (spec 2.5.1). */
    public <T> T readConfigConsistently(java.util.function.Supplier<T> reader) {
        while (true) {
            int before = configGeneration();
            T value = reader.get();
            if (configGeneration() == before) {
                return value;
            }
        }
    }
}
