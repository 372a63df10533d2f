package dev.peridot.virtio.device;

import dev.peridot.virtio.core.internal.DeviceWorker;
import dev.peridot.virtio.core.internal.QueueSlot;
import dev.peridot.virtio.core.internal.SplitVirtqueue;
import dev.peridot.virtio.feature.FeatureSet;
import dev.peridot.virtio.feature.ReservedFeature;
import dev.peridot.virtio.memory.GuestMemory;
import dev.peridot.virtio.queue.QueueLayout;
import dev.peridot.virtio.queue.SplitRing;
import dev.peridot.virtio.queue.VirtqueueAccess;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

/**
 * The 'Virtio Device' abstraction (VD01 §3): the parameters every device has — offered and
 * negotiated features, device and vendor ID, the status field, the size of the device-specific
 * configuration space and the "reset underway" flag — and the generic behaviour behind
 * {@link RunOperations} and {@link LifeCycleOperations}. A specific device extends it and adds
 * its queues' semantics through the protected hooks.
 *
 * <h2>Status transitions (spec 3.1, VD01 §2)</h2>
 * A non-zero status write adds bits; it latches only if every added bit is valid at that point:
 * ACKNOWLEDGE at any time; DRIVER once ACKNOWLEDGE is set; FEATURES_OK once DRIVER is set and
 * the accepted features are acceptable (a subset of the offer, VIRTIO_F_VERSION_1 included, and
 * {@link #acceptFeatures} agrees); DRIVER_OK once FEATURES_OK has latched; FAILED at any time.
 * An invalid write does not latch at all. Bits the driver tries to clear stay set (STAT-08);
 * the undefined bits 0x10 and 0x20 and the device-owned DEVICE_NEEDS_RESET are ignored in
 * writes (STAT-11). After FAILED nothing but a reset is accepted (STAT-09).
 *
 * <p><b>VIRTIO_F_VERSION_1 not accepted:</b> FEATURES_OK is refused (spec 6.2 allows the device
 * to fail; FEAT-13). A device here is modern-only, so a legacy driver cannot bring it up and
 * no half-working legacy mode exists.
 *
 * <h2>Reset (spec 2.4, VD01 §2.2)</h2>
 * Writing 0 starts a reset: Status keeps presenting its old value (RESET_UNDERWAY) until the
 * worker has finished its current pass, every queue is stopped, in-flight buffers are dropped,
 * pending notifications are drained and the transport's interrupt state is cleared; then
 * Status reads 0. The writing thread waits up to {@value #SYNC_WAIT_MILLIS} ms for that, so a
 * driver that does not poll (Linux 6.1 virtio_mmio) normally sees 0 at its next read; if the
 * worker is busy longer, the reset completes in the background and the driver polls.
 *
 * <h2>Errors</h2>
 * Driver-induced corruption ({@link #requestNeedsReset}) sets DEVICE_NEEDS_RESET, stops every
 * queue, and, if DRIVER_OK is set, sends a configuration change notification (spec 2.1.2). It
 * is latched until the next reset: nothing retries.
 *
 * <h2>Threads and locks</h2>
 * <ul>
 *   <li>Transport calls (register accesses) come from any thread. Reads use volatile state and
 *   never lock. Driver control writes (status, features, queue configuration) take the
 *   {@code controlLock}, which is held only for a few field updates.</li>
 *   <li>Queue processing, device tasks and every hook except the configuration accessors run
 *   on the device's worker thread with the {@code processingLock} held, so a device needs no
 *   locking of its own for queue state. Stopping a queue or resetting the device takes the
 *   processing lock too (bounded wait, then it completes on the worker).</li>
 *   <li>Lock order: processing lock before control lock.</li>
 * </ul>
 */
public abstract class VirtioDevice implements RunOperations, LifeCycleOperations {

    /** The vendor ID Peridot devices show by default: "PRDT" in memory order. */
    public static final int DEFAULT_VENDOR_ID = 0x54445250;

    /** How long a register write waits for the worker before a reset or queue stop completes in the background. */
    public static final long SYNC_WAIT_MILLIS = 50;

    /** Reserved features the core implements; a device may offer these and its own bits only. */
    public static final FeatureSet CORE_FEATURES = FeatureSet.of(
            ReservedFeature.VIRTIO_F_VERSION_1, ReservedFeature.VIRTIO_F_INDIRECT_DESC,
            ReservedFeature.VIRTIO_F_EVENT_IDX, ReservedFeature.VIRTIO_F_RING_RESET,
            ReservedFeature.VIRTIO_F_NOTIFICATION_DATA);

    private static final System.Logger LOG = System.getLogger(VirtioDevice.class.getName());
    private static final int MAX_TASKS_PER_PASS = 256;

    private final String name;
    private final int deviceId;
    private final int configSpaceSize;
    private final GuestErrorLog guestErrors;

    private volatile int vendorId = DEFAULT_VENDOR_ID;
    private volatile FeatureSet offered;
    /** {@link #offered} masked by the transport; what DeviceFeatures shows. */
    private volatile FeatureSet presented;
    private volatile FeatureSet driverFeatures = FeatureSet.EMPTY;
    /** The driver wrote a non-zero word beyond bit 127: it accepted something never offered. */
    private volatile boolean driverAcceptedBeyondRange;
    private volatile FeatureSet negotiated = FeatureSet.EMPTY;
    private final AtomicInteger status = new AtomicInteger();
    private volatile boolean resetUnderway;
    private volatile boolean resetRequested;
    private volatile String needsResetReason;
    private volatile boolean started = true;
    private volatile boolean driverOkPending;
    private volatile boolean configNotifyPending;
    private volatile boolean configNotifyDeferred;
    private volatile QueueSlot[] queues;
    private volatile ConfigSnapshot config;
    private volatile DeviceTransport transport;
    private volatile DeviceWorker worker;
    private int queueEpoch;

    private final ReentrantLock controlLock = new ReentrantLock();
    private final ReentrantLock processingLock = new ReentrantLock();

    private final AtomicLong statusWrites = new AtomicLong();
    private final AtomicLong refusedStatusWrites = new AtomicLong();
    private final AtomicLong refusedQueueWrites = new AtomicLong();
    private final AtomicLong ignoredNotifications = new AtomicLong();
    private final AtomicLong configOutOfRange = new AtomicLong();
    private final AtomicLong resets = new AtomicLong();
    private final AtomicLong queueResets = new AtomicLong();
    private final AtomicLong needsResetEvents = new AtomicLong();
    private final AtomicLong configChanges = new AtomicLong();

    /** An immutable version of the configuration space and its generation (read without locks). */
    private record ConfigSnapshot(byte[] bytes, int generation) {
    }

    /**
     * @param name            the device's name (unique among devices, used for MMIO slots)
     * @param deviceId        the device type (spec 5)
     * @param offered         the features to offer; must include VIRTIO_F_VERSION_1, and may
     *                        include only the {@link #CORE_FEATURES} among the reserved bits
     * @param queueMaxSizes   the maximum size of each queue
     * @param configSpaceSize the size in bytes of the device-specific configuration space
     */
    protected VirtioDevice(String name, int deviceId, FeatureSet offered, int[] queueMaxSizes, int configSpaceSize) {
        this.name = Objects.requireNonNull(name, "name");
        if (deviceId <= 0 || deviceId > 0xFFFF) {
            throw new IllegalArgumentException("device ID must be 1..65535: " + deviceId);
        }
        if (configSpaceSize < 0 || configSpaceSize > 0xF00) {
            throw new IllegalArgumentException("config space size must be 0..3840: " + configSpaceSize);
        }
        this.deviceId = deviceId;
        this.configSpaceSize = configSpaceSize;
        this.offered = checkOffer(offered);
        this.presented = this.offered;
        this.queues = makeQueues(queueMaxSizes);
        this.config = new ConfigSnapshot(new byte[configSpaceSize], 0);
        this.guestErrors = new GuestErrorLog(getClass(), name);
    }

    private static FeatureSet checkOffer(FeatureSet features) {
        Objects.requireNonNull(features, "features");
        if (!features.contains(ReservedFeature.VIRTIO_F_VERSION_1)) {
            throw new IllegalArgumentException("a device must offer VIRTIO_F_VERSION_1 (spec 6.2)");
        }
        for (int bit : features.bits()) {
            if (ReservedFeature.isReservedBit(bit) && !CORE_FEATURES.contains(bit)) {
                throw new IllegalArgumentException("reserved feature bit " + bit + " ("
                        + ReservedFeature.ofBit(bit).map(Enum::name).orElse("unassigned")
                        + ") is not implemented by the core and must not be offered");
            }
        }
        return features;
    }

    private static QueueSlot[] makeQueues(int[] maxSizes) {
        if (maxSizes.length > DeviceWorker.MAX_QUEUES) {
            throw new IllegalArgumentException("at most 65536 queues");
        }
        QueueSlot[] slots = new QueueSlot[maxSizes.length];
        for (int i = 0; i < maxSizes.length; i++) {
            if (!SplitRing.isValidSize(maxSizes[i])) {
                throw new IllegalArgumentException("queue " + i + ": maximum size " + maxSizes[i]
                        + " is not a power of 2 between 1 and 32768");
            }
            slots[i] = new QueueSlot(i, maxSizes[i]);
        }
        return slots;
    }

    // ---------------------------------------------------------------- parameters (VD01 §3)

    /** The device type (spec 5). */
    public final int deviceId() {
        return deviceId;
    }

    /** The vendor ID. */
    public final int vendorId() {
        return vendorId;
    }

    /**
     * The features as the driver sees them: the device's offer, with reserved bits the bound
     * transport cannot carry removed.
     */
    public final FeatureSet presentedFeatures() {
        return presented;
    }

    /** The offer masked with the transport's supported reserved bits (VERSION_1 always stays). */
    private static FeatureSet mask(FeatureSet features, DeviceTransport t) {
        if (t == null) {
            return features;
        }
        FeatureSet supported = t.supportedFeatures();
        FeatureSet unsupported = FeatureSet.EMPTY;
        for (int bit : features.bits()) {
            if (ReservedFeature.isReservedBit(bit) && !supported.contains(bit)
                    && bit != ReservedFeature.VIRTIO_F_VERSION_1.bit()) {
                unsupported = unsupported.with(bit);
            }
        }
        return features.minus(unsupported);
    }

    /** The features the driver has accepted so far (its DriverFeatures words). */
    public final FeatureSet driverFeatures() {
        return driverFeatures;
    }

    /** The negotiated features: frozen when FEATURES_OK latched, empty before and after a reset. */
    public final FeatureSet negotiatedFeatures() {
        return negotiated;
    }

    /** The status field as the driver reads it. */
    public final int status() {
        return status.get();
    }

    /** Whether a reset is underway (Status still shows its old value). */
    public final boolean isResetUnderway() {
        return resetUnderway;
    }

    /** The size of the device-specific configuration space. */
    public final int configSpaceSize() {
        return configSpaceSize;
    }

    /** The configuration generation: changes with every device-side change, never goes back. */
    public final int configGeneration() {
        return config.generation();
    }

    /** The number of queues. */
    public final int queueCount() {
        return queues.length;
    }

    /**
     * QueueNumMax of {@code queue}: its maximum size, or 0 if it does not exist or is not
     * available with the features (negotiated once FEATURES_OK latched, offered before).
     */
    public final int queueMaxSize(int queue) {
        QueueSlot[] qs = queues;
        if (queue < 0 || queue >= qs.length) {
            return 0;
        }
        FeatureSet features = (status.get() & DeviceStatus.FEATURES_OK) != 0 ? negotiated : presentedFeatures();
        return isQueueAvailable(queue, features) ? qs[queue].maxSize : 0;
    }

    /** Whether the queue is enabled, or still being stopped (it reads ready until the device let go of it). */
    public final boolean isQueueReady(int queue) {
        QueueSlot slot = slot(queue);
        return slot != null && slot.access != null;
    }

    /** Whether a reset of this queue has not finished (MMIO QueueReset reads 1). */
    public final boolean isQueueResetInProgress(int queue) {
        QueueSlot slot = slot(queue);
        return slot != null && slot.resetRequested;
    }

    /** Word {@code select} of the driver's accepted features (raw, for 'Config Operations'). */
    public final int driverFeatureWord(int select) {
        return driverFeatures.word(select);
    }

    /**
     * Stores word {@code select} of the driver's accepted features (raw, for 'Config
     * Operations'). Ignored after FEATURES_OK, after FAILED and during a reset (FEAT-09). A
     * non-zero word beyond bit 127 is remembered as a bit that was never offered, so FEATURES_OK
     * will be refused (FEAT-07).
     */
    public final void setDriverFeatureWord(int select, int bits) {
        controlLock.lock();
        try {
            int s = status.get();
            if (resetUnderway || (s & (DeviceStatus.FEATURES_OK | DeviceStatus.FAILED)) != 0) {
                guestErrors.report("DriverFeatures write (select %d) after FEATURES_OK, FAILED or during reset ignored",
                        select);
                return;
            }
            FeatureSet updated = driverFeatures.withWord(select, bits);
            if (updated == null) {
                driverAcceptedBeyondRange = true;
                guestErrors.report("driver accepted feature bits in word %d, beyond bit 127", select);
            } else {
                driverFeatures = updated;
            }
        } finally {
            controlLock.unlock();
        }
    }

    private boolean allowsQueueSetupWhileLive() {
        DeviceTransport t = transport;
        return t != null && t.allowsQueueSetupWhileLive();
    }

    private QueueSlot slot(int queue) {
        QueueSlot[] qs = queues;
        return queue >= 0 && queue < qs.length ? qs[queue] : null;
    }

    // ---------------------------------------------------------------- hooks for specific devices

    /**
     * Processes a queue that was notified or that the device asked to process. Runs on the
     * worker with the processing lock held, only while the device is live and the queue is
     * enabled. Take a bounded number of chains; call {@link #requestProcessing} to come back.
     */
    protected abstract void processQueue(VirtqueueAccess queue);

    /** The driver set DRIVER_OK: the device is live. Worker thread, processing lock held. */
    protected void onDriverOk() {
    }

    /** The device is being reset: forget every in-flight chain and all driver-related state. Processing lock held. */
    protected void onReset() {
    }

    /** A queue stopped (QueueReady=0, queue reset, GET_VRING_BASE): forget its in-flight chains. Processing lock held. */
    protected void onQueueStopped(int queue) {
    }

    /** Device-specific feature rules, checked when the driver sets FEATURES_OK (for example dependencies). */
    protected boolean acceptFeatures(FeatureSet features) {
        return true;
    }

    /** Whether {@code queue} exists with these features (for the console: queues 2+ need MULTIPORT). */
    protected boolean isQueueAvailable(int queue, FeatureSet features) {
        return true;
    }

    /**
     * Reads the device-specific configuration; {@code offset + width} is within the space.
     * Called on the driver's thread without locks: read from {@link #configSpace()} or other
     * thread-safe state. The default reads the configuration bytes little-endian.
     */
    protected int readDeviceConfig(int offset, int width) {
        byte[] bytes = config.bytes();
        int value = 0;
        for (int i = width - 1; i >= 0; i--) {
            value = (value << 8) | (bytes[offset + i] & 0xFF);
        }
        return value;
    }

    /**
     * A driver write to the device-specific configuration; {@code offset + width} is within the
     * space. Called on the driver's thread without locks; must not block. The default ignores it
     * (fields are read-only unless a device says otherwise, CFG-09).
     */
    protected void writeDeviceConfig(int offset, int width, int value) {
        guestErrors.report("write of %d bytes to read-only config offset 0x%x ignored", width, offset);
    }

    /** The device was attached to a transport. */
    protected void onAttach() {
    }

    /** The device is being detached; the worker has stopped. Processing lock held. */
    protected void onDetach() {
    }

    // ---------------------------------------------------------------- services for specific devices

    /** Asks the worker to call {@link #processQueue} for {@code queue} (any thread, no allocation). */
    protected final void requestProcessing(int queue) {
        DeviceWorker w = worker;
        if (w != null) {
            w.signalQueue(queue);
        }
    }

    /** Runs {@code task} on the worker with the processing lock held. Dropped if the device is not attached. */
    protected final void execute(Runnable task) {
        DeviceWorker w = worker;
        if (w != null) {
            w.submit(task);
        }
    }

    /** The enabled queue {@code index}, or null. Worker thread. */
    protected final VirtqueueAccess queue(int index) {
        QueueSlot slot = slot(index);
        return slot == null || slot.stopRequested ? null : slot.access;
    }

    /** Whether the driver has set DRIVER_OK and the device can process queues. */
    protected final boolean isLive() {
        return started && !resetUnderway && !resetRequested
                && (status.get() & (DeviceStatus.DRIVER_OK | DeviceStatus.DEVICE_NEEDS_RESET | DeviceStatus.FAILED))
                == DeviceStatus.DRIVER_OK;
    }

    /** Whether the calling thread is this device's worker. */
    protected final boolean onWorkerThread() {
        DeviceWorker w = worker;
        return w != null && w.isWorkerThread();
    }

    /** The log for guest errors of this device (rate-limited). */
    protected final GuestErrorLog guestErrors() {
        return guestErrors;
    }

    /**
     * Changes the device-specific configuration: {@code change} edits a little-endian copy of
     * the bytes, which is then published with a new generation in one step, so a driver's
     * generation loop never sees a mix (CFG-05). The driver gets a configuration change
     * notification if it is live; if it is still initializing, when it sets DRIVER_OK (OPER-04).
     */
    protected final void changeConfig(Consumer<ByteBuffer> change) {
        controlLock.lock();
        try {
            ConfigSnapshot current = config;
            byte[] copy = current.bytes().clone();
            change.accept(ByteBuffer.wrap(copy).order(ByteOrder.LITTLE_ENDIAN));
            if (Arrays.equals(copy, current.bytes())) {
                return; // Nothing changed: the generation must stay (CFG-06).
            }
            config = new ConfigSnapshot(copy, current.generation() + 1);
            configChanges.incrementAndGet();
            if (status.get() != 0) {
                configNotifyPending = true;
            }
        } finally {
            controlLock.unlock();
        }
        DeviceWorker w = worker;
        if (w != null) {
            w.wake();
        }
    }

    // ---------------------------------------------------------------- Run Operations

    @Override
    public final void writeStatus(int value) {
        statusWrites.incrementAndGet();
        int written = value & 0xFF;
        if (written == 0) {
            reset();
            return;
        }
        controlLock.lock();
        try {
            if (resetUnderway) {
                refuseStatus(written, "a reset is underway");
                return;
            }
            int old = status.get();
            if ((value & ~0xFF) != 0 || (written & ~DeviceStatus.DRIVER_SETTABLE) != 0) {
                guestErrors.report("status write 0x%x: undefined or device-owned bits ignored", value);
            }
            int requested = written & DeviceStatus.DRIVER_SETTABLE;
            if ((old & ~requested & DeviceStatus.DRIVER_SETTABLE) != 0) {
                guestErrors.report("status write 0x%02x would clear bits of 0x%02x: kept", written, old);
            }
            int added = requested & ~old;
            if (added == 0) {
                return;
            }
            if ((old & DeviceStatus.FAILED) != 0) {
                refuseStatus(written, "FAILED is set; only a reset is accepted");
                return;
            }
            if ((added & DeviceStatus.FAILED) != 0) {
                // The driver gave up: nothing else it asks for in this write matters.
                status.getAndUpdate(s -> s | DeviceStatus.FAILED);
                return;
            }
            int next = old | added;
            String problem = invalidTransition(old, added, next);
            if (problem != null) {
                refuseStatus(written, problem);
                return;
            }
            if ((added & DeviceStatus.FEATURES_OK) != 0) {
                negotiated = driverFeatures;
            }
            status.getAndUpdate(s -> s | added);
            if ((added & DeviceStatus.DRIVER_OK) != 0) {
                driverOkPending = true;
                if (configNotifyDeferred) {
                    configNotifyDeferred = false;
                    configNotifyPending = true;
                }
            }
        } finally {
            controlLock.unlock();
        }
        DeviceWorker w = worker;
        if (w != null && driverOkPending) {
            w.wake();
        }
    }

    /** Why adding {@code added} to {@code old} is not a valid transition, or null if it is. */
    private String invalidTransition(int old, int added, int next) {
        if ((added & DeviceStatus.DRIVER) != 0 && (next & DeviceStatus.ACKNOWLEDGE) == 0) {
            return "DRIVER without ACKNOWLEDGE";
        }
        if ((added & DeviceStatus.FEATURES_OK) != 0) {
            if ((next & DeviceStatus.DRIVER) == 0) {
                return "FEATURES_OK without DRIVER";
            }
            String refusal = featureRefusal();
            if (refusal != null) {
                return refusal;
            }
        }
        if ((added & DeviceStatus.DRIVER_OK) != 0 && (old & DeviceStatus.FEATURES_OK) == 0) {
            return "DRIVER_OK before FEATURES_OK was accepted";
        }
        return null;
    }

    /** Why the driver's accepted features cannot be accepted, or null (spec 2.2.2, 6.2). */
    private String featureRefusal() {
        FeatureSet accepted = driverFeatures;
        FeatureSet offer = presentedFeatures();
        if (driverAcceptedBeyondRange || !accepted.isSubsetOf(offer)) {
            return "driver accepted features that were not offered: " + accepted.minus(offer);
        }
        if (!accepted.contains(ReservedFeature.VIRTIO_F_VERSION_1)) {
            return "driver did not accept VIRTIO_F_VERSION_1 (legacy drivers are not supported)";
        }
        try {
            if (!acceptFeatures(accepted)) {
                return "the device does not accept the feature set " + accepted;
            }
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.ERROR, name + ": acceptFeatures failed", e);
            return "the device failed to check the features";
        }
        return null;
    }

    private void refuseStatus(int written, String why) {
        refusedStatusWrites.incrementAndGet();
        guestErrors.report("status write 0x%02x refused: %s", written, why);
    }

    @Override
    public final void setQueueSize(int queue, int size) {
        controlLock.lock();
        try {
            QueueSlot slot = writableQueue(queue, "QueueNum");
            if (slot != null) {
                slot.size = size;
            }
        } finally {
            controlLock.unlock();
        }
    }

    @Override
    public final void setQueueDescriptorArea(int queue, long address) {
        setArea(queue, address, QueueSlot.DESC_WRITTEN);
    }

    @Override
    public final void setQueueDriverArea(int queue, long address) {
        setArea(queue, address, QueueSlot.DRIVER_WRITTEN);
    }

    @Override
    public final void setQueueDeviceArea(int queue, long address) {
        setArea(queue, address, QueueSlot.DEVICE_WRITTEN);
    }

    private void setArea(int queue, long address, int which) {
        controlLock.lock();
        try {
            QueueSlot slot = writableQueue(queue, "queue area");
            if (slot == null) {
                return;
            }
            switch (which) {
                case QueueSlot.DESC_WRITTEN -> slot.descriptorArea = address;
                case QueueSlot.DRIVER_WRITTEN -> slot.driverArea = address;
                default -> slot.deviceArea = address;
            }
            slot.areasWritten |= which;
        } finally {
            controlLock.unlock();
        }
    }

    /**
     * The slot if its configuration may be written now, else null (counted and logged): the
     * queue must exist, be disabled, FEATURES_OK must have latched (INIT-06), and after
     * DRIVER_OK only with VIRTIO_F_RING_RESET (queue re-enable, spec 2.6.1.2; HD-08).
     */
    private QueueSlot writableQueue(int queue, String what) {
        QueueSlot slot = slot(queue);
        String problem = null;
        int s = status.get();
        if (slot == null || queueMaxSize(queue) == 0) {
            problem = "no such queue";
        } else if (resetUnderway) {
            problem = "reset underway";
        } else if ((s & DeviceStatus.FAILED) != 0) {
            problem = "FAILED is set";
        } else if ((s & DeviceStatus.FEATURES_OK) == 0) {
            problem = "FEATURES_OK not set";
        } else if (slot.access != null || slot.stopRequested) {
            problem = "queue is enabled";
        } else if ((s & DeviceStatus.DRIVER_OK) != 0 && !negotiated.contains(ReservedFeature.VIRTIO_F_RING_RESET)
                && !allowsQueueSetupWhileLive()) {
            problem = "DRIVER_OK is set and VIRTIO_F_RING_RESET was not negotiated";
        }
        if (problem != null) {
            refusedQueueWrites.incrementAndGet();
            guestErrors.report("%s write for queue %d refused: %s", what, queue, problem);
            return null;
        }
        return slot;
    }

    @Override
    public final void setQueueReady(int queue, boolean ready) {
        if (ready) {
            enableQueue(queue);
        } else {
            QueueSlot slot = slot(queue);
            if (slot != null && slot.access != null && !slot.stopRequested) {
                stopQueueAsync(slot, false);
            }
        }
    }

    private void enableQueue(int queue) {
        controlLock.lock();
        try {
            QueueSlot slot = slot(queue);
            if (slot != null && slot.access != null && !slot.stopRequested) {
                return; // Already enabled: QueueReady=1 twice is harmless.
            }
            slot = writableQueue(queue, "QueueReady");
            if (slot == null) {
                return;
            }
            DeviceTransport t = transport;
            if (t == null) {
                refuseQueue(queue, "device is not attached to a transport");
                return;
            }
            if (slot.areasWritten != QueueSlot.ALL_WRITTEN) {
                refuseQueue(queue, "not all three ring areas were written");
                return;
            }
            GuestMemory memory = t.guestMemory();
            if (memory == null) {
                refuseQueue(queue, "the transport has no guest memory");
                return;
            }
            String[] problem = new String[1];
            SplitVirtqueue access = SplitVirtqueue.create(slot,
                    new QueueLayout(slot.size, slot.descriptorArea, slot.driverArea, slot.deviceArea), memory,
                    negotiated.contains(ReservedFeature.VIRTIO_F_EVENT_IDX),
                    negotiated.contains(ReservedFeature.VIRTIO_F_INDIRECT_DESC),
                    t.notifyDriver(), this::queueFault, ++queueEpoch, slot.resumeNextAvail, problem);
            if (access == null) {
                refuseQueue(queue, problem[0]);
                return;
            }
            slot.resumeNextAvail = -1;
            slot.access = access;
        } finally {
            controlLock.unlock();
        }
        if (isLive()) {
            requestProcessing(queue); // A queue enabled while live is scanned at once (INIT-07).
        }
    }

    private void refuseQueue(int queue, String why) {
        refusedQueueWrites.incrementAndGet();
        guestErrors.report("QueueReady=1 for queue %d refused: %s", queue, why);
    }

    @Override
    public final void resetQueue(int queue) {
        QueueSlot slot = slot(queue);
        if (slot == null || !negotiated.contains(ReservedFeature.VIRTIO_F_RING_RESET)) {
            guestErrors.report("QueueReset for queue %d ignored: no such queue or VIRTIO_F_RING_RESET not negotiated", queue);
            return;
        }
        if (slot.access == null || slot.stopRequested) {
            return; // Not enabled: nothing to reset (VQ-10).
        }
        stopQueueAsync(slot, true);
    }

    /**
     * Stops a queue so that the device no longer touches it; while the worker still holds it
     * the queue reads as ready (and QueueReset as 1 for a queue reset), spec 4.2.2.2 / MMIO-31.
     */
    private void stopQueueAsync(QueueSlot slot, boolean queueReset) {
        slot.resetRequested = queueReset;
        slot.stopRequested = true;
        SplitVirtqueue access = slot.access;
        if (access != null) {
            access.halt(); // No new chain is taken from now on; the pass in progress is waited for.
        }
        runWithProcessingLock(() -> completeQueueStop(slot));
    }

    /** Runs {@code action} with the processing lock: now if it can be had within the bounded wait, else on the worker. */
    private void runWithProcessingLock(Runnable action) {
        DeviceWorker w = worker;
        if (processingLock.isHeldByCurrentThread() || (w != null && w.isWorkerThread())) {
            if (w != null) {
                w.submit(action); // Re-entered from device code: finish after the current step.
                return;
            }
        }
        boolean locked = false;
        try {
            locked = processingLock.tryLock(SYNC_WAIT_MILLIS, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (locked) {
            try {
                action.run();
            } finally {
                processingLock.unlock();
            }
        } else if (w != null) {
            w.submit(action);
        } else {
            processingLock.lock();
            try {
                action.run();
            } finally {
                processingLock.unlock();
            }
        }
    }

    /** Processing lock held. */
    private void completeQueueStop(QueueSlot slot) {
        SplitVirtqueue access = slot.access;
        if (!slot.stopRequested || access == null) {
            return;
        }
        access.halt();
        slot.stoppedNextAvail = access.nextAvail();
        guarded(() -> onQueueStopped(slot.index), "onQueueStopped");
        boolean wasReset = slot.resetRequested;
        slot.access = null;
        slot.stopRequested = false;
        slot.resetRequested = false;
        if (wasReset) {
            queueResets.incrementAndGet();
        }
    }

    @Override
    public final void notifyQueue(int queue) {
        QueueSlot slot = slot(queue);
        if (slot == null) {
            ignoredNotifications.incrementAndGet();
            guestErrors.report("notification for queue %d, which does not exist", queue);
            return;
        }
        slot.countNotification();
        DeviceWorker w = worker;
        if (slot.access == null || slot.stopRequested || w == null || !isLive()) {
            // Before DRIVER_OK, after a reset, or for a disabled queue: nothing to do now; a
            // queue is scanned anyway when the device goes live (HD-31).
            ignoredNotifications.incrementAndGet();
            return;
        }
        w.signalQueue(queue);
    }

    @Override
    public final int readConfig(int offset, int width) {
        if (!configAccessInRange(offset, width)) {
            return 0;
        }
        return readDeviceConfig(offset, width);
    }

    @Override
    public final void writeConfig(int offset, int width, int value) {
        if (!configAccessInRange(offset, width)) {
            return;
        }
        writeDeviceConfig(offset, width, value);
    }

    private boolean configAccessInRange(int offset, int width) {
        if ((width == 1 || width == 2 || width == 4) && offset >= 0 && offset <= configSpaceSize - width) {
            return true;
        }
        configOutOfRange.incrementAndGet();
        guestErrors.report("config access of width %d at offset 0x%x beyond the %d-byte config space", width, offset,
                configSpaceSize);
        return false;
    }

    @Override
    public final void setQueueNextAvail(int queue, int nextAvail) {
        controlLock.lock();
        try {
            QueueSlot slot = slot(queue);
            if (slot == null || slot.access != null) {
                guestErrors.report("ring base for queue %d ignored: no such queue or queue running", queue);
                return;
            }
            slot.resumeNextAvail = nextAvail & 0xFFFF;
        } finally {
            controlLock.unlock();
        }
    }

    @Override
    public final int stopQueue(int queue) {
        QueueSlot slot = slot(queue);
        if (slot == null) {
            return 0;
        }
        processingLock.lock();
        try {
            if (slot.access != null) {
                slot.stopRequested = true;
                completeQueueStop(slot);
            }
            // Already stopped: where it stopped, else where it would resume, else the start.
            int stopped = slot.stoppedNextAvail;
            return stopped >= 0 ? stopped : Math.max(0, slot.resumeNextAvail);
        } finally {
            processingLock.unlock();
        }
    }

    // ---------------------------------------------------------------- errors

    private void queueFault(int queue, String problem) {
        requestNeedsReset("queue " + queue + ": " + problem);
    }

    @Override
    public final void requestNeedsReset(String reason) {
        int before;
        controlLock.lock();
        try {
            before = status.get();
            if (before == 0 || resetUnderway || (before & DeviceStatus.DEVICE_NEEDS_RESET) != 0) {
                if (before == 0 || resetUnderway) {
                    LOG.log(System.Logger.Level.DEBUG, name + ": error while no driver is active: " + reason);
                }
                return;
            }
            needsResetReason = reason;
            status.getAndUpdate(s -> s | DeviceStatus.DEVICE_NEEDS_RESET);
            needsResetEvents.incrementAndGet();
            for (QueueSlot slot : queues) {
                SplitVirtqueue access = slot.access;
                if (access != null) {
                    access.halt();
                }
            }
            if ((before & DeviceStatus.DRIVER_OK) != 0) {
                configNotifyPending = true; // Status bit first, then the notification (STAT-05).
            }
        } finally {
            controlLock.unlock();
        }
        LOG.log(System.Logger.Level.WARNING, name + ": DEVICE_NEEDS_RESET: " + reason);
        DeviceWorker w = worker;
        if (w != null) {
            if (w.isWorkerThread()) {
                deliverConfigNotification();
            } else {
                w.wake();
            }
        }
    }

    @Override
    public final Optional<String> needsResetReason() {
        return Optional.ofNullable(needsResetReason);
    }

    // ---------------------------------------------------------------- reset

    @Override
    public final void reset() {
        controlLock.lock();
        try {
            resetUnderway = true;
            resetRequested = true;
            for (QueueSlot slot : queues) {
                SplitVirtqueue access = slot.access;
                if (access != null) {
                    access.halt(); // Nothing new is taken or completed from now on.
                }
            }
        } finally {
            controlLock.unlock();
        }
        runWithProcessingLock(this::completeReset);
    }

    /** Processing lock held. Finishes a requested reset, if one is still pending. */
    private void completeReset() {
        if (!resetRequested) {
            return;
        }
        for (QueueSlot slot : queues) {
            SplitVirtqueue access = slot.access;
            if (access != null) {
                access.halt();
            }
        }
        DeviceWorker w = worker;
        if (w != null) {
            w.clearPending();
        }
        guarded(this::onReset, "onReset");
        controlLock.lock();
        try {
            for (QueueSlot slot : queues) {
                slot.access = null;
                slot.stopRequested = false;
                slot.resetRequested = false;
                slot.clearConfiguration();
            }
            driverFeatures = FeatureSet.EMPTY;
            driverAcceptedBeyondRange = false;
            negotiated = FeatureSet.EMPTY;
            needsResetReason = null;
            driverOkPending = false;
            configNotifyPending = false;
            configNotifyDeferred = false;
            DeviceTransport t = transport;
            if (t != null) {
                try {
                    t.resetCompleted(); // Interrupt state cleared before Status reads 0 (STAT-15).
                } catch (RuntimeException e) {
                    LOG.log(System.Logger.Level.ERROR, name + ": transport failed to clear its state", e);
                }
            }
            status.set(0);
            resetRequested = false;
            resetUnderway = false;
        } finally {
            controlLock.unlock();
        }
        resets.incrementAndGet();
    }

    // ---------------------------------------------------------------- the worker pass

    private void workerPass() {
        processingLock.lock();
        try {
            if (resetRequested) {
                completeReset();
            }
            for (QueueSlot slot : queues) {
                if (slot.stopRequested) {
                    completeQueueStop(slot);
                }
            }
            DeviceWorker w = worker;
            if (w == null) {
                return;
            }
            Runnable task;
            int budget = MAX_TASKS_PER_PASS;
            while (budget-- > 0 && (task = w.pollTask()) != null) {
                guarded(task, "task");
            }
            if (budget < 0) {
                w.wake();
            }
            if (driverOkPending) {
                driverOkPending = false;
                if (isLive()) {
                    guarded(this::onDriverOk, "onDriverOk");
                    for (QueueSlot slot : queues) {
                        if (slot.access != null) {
                            w.signalQueue(slot.index); // Process what was posted before DRIVER_OK (INIT-07).
                        }
                    }
                }
            }
            deliverConfigNotification();
            processPendingQueues(w);
        } finally {
            processingLock.unlock();
        }
    }

    private void processPendingQueues(DeviceWorker w) {
        QueueSlot[] qs = queues;
        int words = (qs.length + 63) >>> 6;
        for (int word = 0; word < words; word++) {
            long bits = w.takePendingWord(word);
            while (bits != 0) {
                int q = (word << 6) + Long.numberOfTrailingZeros(bits);
                bits &= bits - 1;
                if (q >= qs.length || !isLive()) {
                    continue;
                }
                QueueSlot slot = qs[q];
                SplitVirtqueue access = slot.access;
                if (access == null || slot.stopRequested) {
                    continue;
                }
                try {
                    processQueue(access);
                } catch (RuntimeException | Error e) {
                    deviceFailure("processQueue(" + q + ")", e);
                }
            }
        }
    }

    /** Sends a pending configuration change notification if the driver is live; defers it while it initializes. */
    private void deliverConfigNotification() {
        if (!configNotifyPending) {
            return;
        }
        configNotifyPending = false;
        int s = status.get();
        DeviceTransport t = transport;
        if (t == null || resetUnderway || s == 0) {
            return;
        }
        if ((s & DeviceStatus.DRIVER_OK) == 0) {
            configNotifyDeferred = true;
            return;
        }
        try {
            t.notifyDriver().configurationChanged();
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.ERROR, name + ": configuration change notification failed", e);
        }
    }

    private void guarded(Runnable action, String what) {
        try {
            action.run();
        } catch (RuntimeException | Error e) {
            deviceFailure(what, e);
        }
    }

    /** A bug in device code: log it and take the device out of service until the driver resets it. */
    private void deviceFailure(String what, Throwable e) {
        if (e instanceof VirtualMachineError vme) {
            throw vme;
        }
        LOG.log(System.Logger.Level.ERROR, name + ": device code failed in " + what, e);
        requestNeedsReset("device error in " + what + ": " + e);
    }

    // ---------------------------------------------------------------- Life Cycle Operations

    @Override
    public final String deviceName() {
        return name;
    }

    @Override
    public final void attach(DeviceTransport newTransport) {
        Objects.requireNonNull(newTransport, "transport");
        controlLock.lock();
        try {
            if (transport != null) {
                throw new IllegalStateException(name + " is already attached to " + transport.name());
            }
            transport = newTransport;
            presented = mask(offered, newTransport);
            DeviceWorker w = new DeviceWorker("virtio-" + name, this::workerPass);
            worker = w;
            w.start();
        } finally {
            controlLock.unlock();
        }
        try {
            onAttach();
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.ERROR, name + ": onAttach failed", e);
        }
    }

    @Override
    public final void detach() {
        DeviceWorker w;
        controlLock.lock();
        try {
            if (transport == null) {
                return;
            }
            w = worker;
            resetUnderway = true;
            resetRequested = true;
        } finally {
            controlLock.unlock();
        }
        if (w != null && !w.isWorkerThread() && !w.stop(5_000)) {
            LOG.log(System.Logger.Level.WARNING, name + ": worker did not stop within 5 s");
        }
        processingLock.lock();
        try {
            worker = null;
            completeReset();
            guarded(this::onDetach, "onDetach");
            controlLock.lock();
            try {
                transport = null;
                presented = offered;
            } finally {
                controlLock.unlock();
            }
        } finally {
            processingLock.unlock();
        }
    }

    @Override
    public final boolean isAttached() {
        return transport != null;
    }

    @Override
    public final Optional<String> transportName() {
        DeviceTransport t = transport;
        return t == null ? Optional.empty() : Optional.of(t.name());
    }

    @Override
    public final FeatureSet offeredFeatures() {
        return offered;
    }

    @Override
    public final void setOfferedFeatures(FeatureSet features) {
        FeatureSet checked = checkOffer(features);
        controlLock.lock();
        try {
            requireNoDriver("change the offered features");
            offered = checked;
            presented = mask(checked, transport);
        } finally {
            controlLock.unlock();
        }
    }

    @Override
    public final void setVendorId(int vendorId) {
        this.vendorId = vendorId;
    }

    @Override
    public final void setQueueMaxSizes(int... maxSizes) {
        QueueSlot[] slots = makeQueues(maxSizes);
        controlLock.lock();
        try {
            requireNoDriver("change the queues");
            queues = slots;
        } finally {
            controlLock.unlock();
        }
    }

    private void requireNoDriver(String what) {
        if (status.get() != 0 || resetUnderway) {
            throw new IllegalStateException("cannot " + what + " of " + name + " while a driver uses it (status 0x"
                    + Integer.toHexString(status.get()) + ")");
        }
    }

    @Override
    public final void start() {
        started = true;
        DeviceWorker w = worker;
        if (w != null) {
            for (QueueSlot slot : queues) {
                if (slot.access != null) {
                    w.signalQueue(slot.index);
                }
            }
        }
    }

    @Override
    public final void stop() {
        started = false;
        // Wait for a pass in progress, so that no queue is touched once stop() returns.
        runWithProcessingLock(() -> { });
    }

    @Override
    public final boolean isStarted() {
        return started;
    }

    @Override
    public final DeviceState state() {
        return DeviceState.of(status.get(), resetUnderway);
    }

    @Override
    public final byte[] configSpace() {
        return config.bytes().clone();
    }

    @Override
    public final QueueInfo queueInfo(int queue) {
        QueueSlot slot = slot(queue);
        if (slot == null) {
            throw new IllegalArgumentException(name + " has no queue " + queue);
        }
        SplitVirtqueue access = slot.access;
        return new QueueInfo(queue, queueMaxSize(queue), slot.size, access != null, slot.resetRequested,
                slot.descriptorArea, slot.driverArea, slot.deviceArea,
                access == null ? 0 : access.nextAvail(), access == null ? -1 : safeAvailIdx(access),
                access == null ? 0 : access.publishedUsed(), access == null ? 0 : access.inFlight(),
                slot.notificationsReceived(), slot.chainsPopped, slot.buffersUsed, slot.notificationsSent,
                access != null && access.isBroken());
    }

    private static int safeAvailIdx(SplitVirtqueue access) {
        try {
            return access.driverAvailIdx();
        } catch (RuntimeException e) {
            return -1; // Memory unmapped while inspecting.
        }
    }

    @Override
    public final DeviceStatistics statistics() {
        return new DeviceStatistics(statusWrites.get(), refusedStatusWrites.get(), refusedQueueWrites.get(),
                ignoredNotifications.get(), configOutOfRange.get(), resets.get(), queueResets.get(),
                needsResetEvents.get(), configChanges.get());
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + "[" + name + ", id " + deviceId + ", status "
                + DeviceStatus.describe(status.get()) + (resetUnderway ? ", RESET_UNDERWAY" : "") + "]";
    }
}
