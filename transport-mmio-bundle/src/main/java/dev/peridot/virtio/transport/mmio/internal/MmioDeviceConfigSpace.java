package dev.peridot.virtio.transport.mmio.internal;

import static dev.peridot.virtio.transport.mmio.MmioRegisters.*;

import dev.peridot.virtio.device.ConfigOperations;
import dev.peridot.virtio.device.DeviceStatus;
import dev.peridot.virtio.device.DeviceTransport;
import dev.peridot.virtio.device.GuestErrorLog;
import dev.peridot.virtio.device.NotifyDriver;
import dev.peridot.virtio.device.RunOperations;
import dev.peridot.virtio.feature.FeatureSet;
import dev.peridot.virtio.feature.ReservedFeature;
import dev.peridot.virtio.memory.GuestMemory;
import dev.peridot.virtio.transport.mmio.MmioDeviceAccess;
import dev.peridot.virtio.transport.mmio.MmioStatistics;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The 'Device Config Space' of one MMIO slot (spec 4.2.2, version 2): decodes register accesses
 * into the device's {@link ConfigOperations} and {@link RunOperations}, holds the transport's
 * own registers (the selectors, the halves of the 64-bit queue addresses, InterruptStatus), and
 * implements {@link NotifyDriver} with level-triggered interrupt semantics.
 *
 * <p>Invalid accesses (HD-01, HD-02, MMIO-33..37) read 0 or are ignored, are counted, and are
 * logged with a rate limit; nothing throws into the caller.
 *
 * <p>Threads: register accesses come from any thread and take no lock; the selectors are
 * volatile (a driver serializes its own register sequence). Interrupt level changes are
 * delivered under {@code levelLock} so that sinks see raise and lower in the order of the
 * InterruptStatus changes. Statistics are plain counters: under concurrent access from several
 * vCPU threads an increment may be lost; they are for inspection only.
 */
public final class MmioDeviceConfigSpace implements MmioDeviceAccess, DeviceTransport, NotifyDriver {

    /** What the slot is bound to; null when the slot is empty. */
    private record Binding(String name, int deviceId, ConfigOperations config, RunOperations run) {
    }

    /** The reserved features MMIO carries (RING_RESET through QueueReset, NOTIFICATION_DATA through QueueNotify). */
    public static final FeatureSet SUPPORTED_FEATURES = FeatureSet.of(ReservedFeature.VIRTIO_F_VERSION_1,
            ReservedFeature.VIRTIO_F_INDIRECT_DESC, ReservedFeature.VIRTIO_F_EVENT_IDX,
            ReservedFeature.VIRTIO_F_RING_RESET, ReservedFeature.VIRTIO_F_NOTIFICATION_DATA);

    private static final int NOTIFICATION_DATA_WORD1_BIT = 1 << (ReservedFeature.VIRTIO_F_NOTIFICATION_DATA.bit() - 32);

    private final int slot;
    private final long baseAddress;
    private final int windowSize;
    private final int irq;
    private final GuestMemory memory;
    private final InterruptRouter router;
    private final GuestErrorLog guestErrors;
    private volatile Binding binding;

    private volatile int deviceFeaturesSel;
    private volatile int driverFeaturesSel;
    private volatile int queueSel;
    private volatile int shmSel;
    /** Shadow halves of QueueDesc/QueueDriver/QueueDevice, per queue: [queue][0..2]. */
    private volatile long[][] areas = new long[0][];

    private final AtomicInteger interruptStatus = new AtomicInteger();
    private final Object levelLock = new Object();
    private boolean deliveredLevel;

    private long reads;
    private long writes;
    private long invalidAccesses;
    private long notificationsReceived;
    private long interruptsRaised;
    private long lineAssertions;
    private long interruptsAcknowledged;

    /**
     * An empty slot (a placeholder: MagicValue, Version, DeviceID 0) until {@link #bind} is
     * called.
     */
    public MmioDeviceConfigSpace(int slot, long baseAddress, int windowSize, int irq, GuestMemory memory,
                                 InterruptRouter router) {
        this.slot = slot;
        this.baseAddress = baseAddress;
        this.windowSize = windowSize;
        this.irq = irq;
        this.memory = memory;
        this.router = router;
        this.guestErrors = new GuestErrorLog(MmioDeviceConfigSpace.class, "mmio slot " + slot);
    }

    /** Binds the window to a device's operations (before the device is attached). */
    public void bind(String name, ConfigOperations config, RunOperations run) {
        areas = new long[Math.max(0, config.queueCount())][3];
        binding = new Binding(name, config.deviceId(), config, run);
    }

    /** Makes the window read as an empty slot and lowers its interrupt line. Idempotent. */
    public void unbind() {
        binding = null;
        interruptStatus.set(0);
        deliverLevel();
    }

    // ------------------------------------------------------------------ register reads

    @Override
    public int read(int offset, int width) {
        reads++;
        if (offset >= CONFIG && offset < windowSize) {
            return readConfig(offset - CONFIG, width);
        }
        if (width != 4 || (offset & 3) != 0 || offset < 0 || offset >= windowSize) {
            return invalid("read", offset, width);
        }
        switch (offset) {
            case MAGIC_VALUE:
                return MAGIC;
            case VERSION:
                return VERSION_2;
            default:
                break;
        }
        Binding b = binding;
        if (b == null) {
            return 0; // A placeholder slot: DeviceID 0 and nothing else (MMIO-38).
        }
        return switch (offset) {
            case DEVICE_ID -> b.deviceId;
            case VENDOR_ID -> b.config.vendorId();
            case DEVICE_FEATURES -> b.config.deviceFeatureBits(deviceFeaturesSel);
            case QUEUE_NUM_MAX -> b.config.queueMaxSize(queueSel);
            case QUEUE_READY -> b.config.isQueueReady(queueSel) ? 1 : 0;
            case INTERRUPT_STATUS -> interruptStatus.get();
            case STATUS -> b.config.status();
            case SHM_LEN_LOW -> (int) b.config.sharedMemoryLength(shmSel);
            case SHM_LEN_HIGH -> (int) (b.config.sharedMemoryLength(shmSel) >>> 32);
            case SHM_BASE_LOW -> (int) b.config.sharedMemoryBase(shmSel);
            case SHM_BASE_HIGH -> (int) (b.config.sharedMemoryBase(shmSel) >>> 32);
            case QUEUE_RESET -> b.config.isQueueResetInProgress(queueSel) ? 1 : 0;
            case CONFIG_GENERATION -> b.config.configGeneration();
            default -> invalid("read of a write-only or reserved register", offset, width);
        };
    }

    private int readConfig(int offset, int width) {
        Binding b = binding;
        if (b == null) {
            return 0;
        }
        if ((width != 1 && width != 2 && width != 4) || offset > b.config.configSpaceSize() - width) {
            return invalid("config read beyond the config space", offset + CONFIG, width);
        }
        return b.run.readConfig(offset, width);
    }

    // ------------------------------------------------------------------ register writes

    @Override
    public void write(int offset, int width, int value) {
        writes++;
        if (offset >= CONFIG && offset < windowSize) {
            writeConfig(offset - CONFIG, width, value);
            return;
        }
        if (width != 4 || (offset & 3) != 0 || offset < 0 || offset >= windowSize) {
            invalid("write", offset, width);
            return;
        }
        Binding b = binding;
        if (b == null) {
            return; // Writes to a placeholder slot have no effect (MMIO-38).
        }
        switch (offset) {
            case DEVICE_FEATURES_SEL -> deviceFeaturesSel = value;
            case DRIVER_FEATURES -> b.config.setDriverFeatureBits(driverFeaturesSel, value);
            case DRIVER_FEATURES_SEL -> driverFeaturesSel = value;
            case QUEUE_SEL -> queueSel = value;
            case QUEUE_NUM -> b.run.setQueueSize(queueSel, value);
            case QUEUE_READY -> writeQueueReady(b, value);
            case QUEUE_NOTIFY -> writeQueueNotify(b, value);
            case INTERRUPT_ACK -> acknowledge(value);
            case STATUS -> b.run.writeStatus(value);
            case QUEUE_DESC_LOW, QUEUE_DESC_HIGH, QUEUE_DRIVER_LOW, QUEUE_DRIVER_HIGH, QUEUE_DEVICE_LOW,
                    QUEUE_DEVICE_HIGH -> writeQueueArea(b, offset, value);
            case SHM_SEL -> shmSel = value;
            case QUEUE_RESET -> {
                if (value == 1) {
                    b.run.resetQueue(queueSel);
                } else {
                    invalid("QueueReset value other than 1", offset, width);
                }
            }
            default -> invalid("write to a read-only or reserved register", offset, width);
        }
    }

    private void writeConfig(int offset, int width, int value) {
        Binding b = binding;
        if (b == null) {
            return;
        }
        if ((width != 1 && width != 2 && width != 4) || offset > b.config.configSpaceSize() - width) {
            invalid("config write beyond the config space", offset + CONFIG, width);
            return;
        }
        b.run.writeConfig(offset, width, value);
    }

    private void writeQueueReady(Binding b, int value) {
        if (value == 1) {
            b.run.setQueueReady(queueSel, true);
        } else if (value == 0) {
            b.run.setQueueReady(queueSel, false);
        } else {
            invalid("QueueReady value other than 0 or 1", QUEUE_READY, 4); // MMIO-46
        }
    }

    /**
     * QueueNotify (spec 4.2.3.3): the queue index, or with VIRTIO_F_NOTIFICATION_DATA
     * {vqn:16, next_off:15, next_wrap:1}, where the rest is only a hint (NOTIF-09). Without
     * the feature the value is not truncated: anything beyond the queues is ignored (NOTIF-10).
     */
    private void writeQueueNotify(Binding b, int value) {
        notificationsReceived++;
        int queue = value;
        if ((b.config.status() & DeviceStatus.FEATURES_OK) != 0
                && (b.config.driverFeatureBits(1) & NOTIFICATION_DATA_WORD1_BIT) != 0) {
            queue = value & 0xFFFF;
        }
        if (queue < 0 || queue >= b.config.queueCount()) {
            invalid("QueueNotify for a queue that does not exist", QUEUE_NOTIFY, 4);
            return;
        }
        b.run.notifyQueue(queue);
    }

    /** The 64-bit area addresses arrive in two halves; the device gets the combined value after each half. */
    private void writeQueueArea(Binding b, int offset, int value) {
        int queue = queueSel;
        long[][] table = areas;
        if (queue < 0 || queue >= table.length) {
            // Let the device refuse and count it, with the value as given.
            b.run.setQueueDescriptorArea(queue, value & 0xFFFF_FFFFL);
            return;
        }
        int which = switch (offset) {
            case QUEUE_DESC_LOW, QUEUE_DESC_HIGH -> 0;
            case QUEUE_DRIVER_LOW, QUEUE_DRIVER_HIGH -> 1;
            default -> 2;
        };
        boolean high = (offset & 4) != 0;
        long old = table[queue][which];
        long combined = high ? (old & 0xFFFF_FFFFL) | ((long) value << 32)
                : (old & 0xFFFF_FFFF_0000_0000L) | (value & 0xFFFF_FFFFL);
        table[queue][which] = combined;
        switch (which) {
            case 0 -> b.run.setQueueDescriptorArea(queue, combined);
            case 1 -> b.run.setQueueDriverArea(queue, combined);
            default -> b.run.setQueueDeviceArea(queue, combined);
        }
    }

    private int invalid(String what, int offset, int width) {
        invalidAccesses++;
        guestErrors.report("%s at 0x%03x (%s), width %d, ignored", what, offset, dev.peridot.virtio.transport.mmio.MmioRegisters.name(offset), width);
        return 0;
    }

    // ------------------------------------------------------------------ interrupts (Notify Driver)

    @Override
    public void usedBuffer(int queue) {
        raise(INTERRUPT_USED_RING);
    }

    @Override
    public void configurationChanged() {
        raise(INTERRUPT_CONFIG_CHANGE);
    }

    /** Sets an InterruptStatus bit and asserts the line if it was low (MMIO-23, MMIO-49). */
    private void raise(int bit) {
        if (binding == null) {
            return;
        }
        interruptsRaised++;
        int old;
        do {
            old = interruptStatus.get();
        } while (!interruptStatus.compareAndSet(old, old | bit));
        if (old == 0) {
            deliverLevel();
        }
    }

    /** InterruptACK: clears exactly the written bits; undefined bits are ignored (MMIO-15, MMIO-44). */
    private void acknowledge(int value) {
        int bits = value & (INTERRUPT_USED_RING | INTERRUPT_CONFIG_CHANGE);
        int old;
        do {
            old = interruptStatus.get();
        } while (!interruptStatus.compareAndSet(old, old & ~bits));
        if ((old & bits) != 0) {
            interruptsAcknowledged++;
            if ((old & ~bits) == 0) {
                deliverLevel();
            }
        }
    }

    /** Tells the sinks the current level, if it differs from what they were told last. */
    private void deliverLevel() {
        synchronized (levelLock) {
            int status = interruptStatus.get();
            boolean level = status != 0;
            if (level == deliveredLevel) {
                return;
            }
            deliveredLevel = level;
            if (level) {
                lineAssertions++;
            }
            router.deliver(this, slot, irq, level, status);
        }
    }

    // ------------------------------------------------------------------ DeviceTransport

    @Override
    public String name() {
        return "mmio";
    }

    @Override
    public GuestMemory guestMemory() {
        return memory;
    }

    @Override
    public NotifyDriver notifyDriver() {
        return this;
    }

    @Override
    public FeatureSet supportedFeatures() {
        return SUPPORTED_FEATURES;
    }

    /** The device finished a reset: InterruptStatus and the selectors return to 0 (MMIO-25, MMIO-47). */
    @Override
    public void resetCompleted() {
        deviceFeaturesSel = 0;
        driverFeaturesSel = 0;
        queueSel = 0;
        shmSel = 0;
        long[][] table = areas;
        for (long[] a : table) {
            Arrays.fill(a, 0);
        }
        interruptStatus.set(0);
        deliverLevel();
    }

    // ------------------------------------------------------------------ MmioDeviceAccess

    @Override
    public int slot() {
        return slot;
    }

    @Override
    public long baseAddress() {
        return baseAddress;
    }

    @Override
    public int windowSize() {
        return windowSize;
    }

    @Override
    public int irq() {
        return irq;
    }

    @Override
    public String deviceName() {
        Binding b = binding;
        return b == null ? "" : b.name;
    }

    @Override
    public boolean isBound() {
        return binding != null;
    }

    @Override
    public boolean interruptAsserted() {
        return interruptStatus.get() != 0;
    }

    /** InterruptStatus, for inspection without a register access. */
    public int interruptStatus() {
        return interruptStatus.get();
    }

    @Override
    public MmioStatistics statistics() {
        return new MmioStatistics(reads, writes, invalidAccesses, notificationsReceived, interruptsRaised,
                lineAssertions, interruptsAcknowledged);
    }

    @Override
    public String toString() {
        Binding b = binding;
        return String.format("MMIO slot %d @0x%x irq %d: %s", slot, baseAddress, irq, b == null ? "empty" : b.name);
    }
}
