package dev.peridot.virtio.fuzz;

import static dev.peridot.virtio.transport.mmio.MmioRegisters.*;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.peridot.virtio.device.DeviceStatus;
import dev.peridot.virtio.feature.FeatureSet;
import dev.peridot.virtio.feature.ReservedFeature;
import dev.peridot.virtio.fuzz.support.Finding;
import dev.peridot.virtio.fuzz.support.FuzzDevice;
import dev.peridot.virtio.fuzz.support.MmioFuzzRig;
import dev.peridot.virtio.fuzz.support.Oracle;
import dev.peridot.virtio.queue.SplitRing;
import dev.peridot.virtio.testkit.DriverException;
import dev.peridot.virtio.testkit.DriverQueue;
import dev.peridot.virtio.testkit.VirtioMmioDriver;
import java.util.ArrayList;
import java.util.List;

/**
 * Target 1: the MMIO register file. The fuzzer's bytes become a sequence of driver operations
 * against a {@link FuzzDevice} bound to the MMIO transport: raw register reads and writes
 * (offset, width, value; through the slot's window or the machine's bus), Status writes, queue
 * selection/size/ready/reset writes, kicks (any QueueNotify value), interrupt acknowledgements,
 * resets — interleaved with well-formed steps of the test kit's Linux-like driver (bring-up,
 * single init steps, buffers added and harvested) so that the search reaches live queues and
 * not only the first refused write — and host-side events (configuration change, held buffers
 * released, a device-side failure, a device-code exception).
 *
 * <p>Oracle, after every operation: no exception escapes a register access or the device into
 * the caller; no operation takes longer than the bound, and the device's worker is idle again
 * within it; Status has a valid bit combination, only loses bits through a reset and shows
 * DEVICE_NEEDS_RESET only with a device-side reason; InterruptStatus has only defined bits and
 * the interrupt line follows it; the identification registers never change; the device holds no
 * more chains than a queue's size. While the driver has only done well-formed things, the
 * device must not enter DEVICE_NEEDS_RESET, every buffer a kick made available on the loopback
 * and sink queues must come back, and the driver kit must find nothing wrong in the used rings.
 * At the end of the input: a reset completes within the bound, and a fresh driver brings the
 * device up and moves a buffer.
 */
class MmioRegisterFuzzTest {

    private static final long RAM_SIZE = 1L << 20;

    /** Every defined register, some undefined offsets, the config space and beyond. */
    private static final int[] OFFSETS = {MAGIC_VALUE, VERSION, DEVICE_ID, VENDOR_ID, DEVICE_FEATURES,
        DEVICE_FEATURES_SEL, DRIVER_FEATURES, DRIVER_FEATURES_SEL, QUEUE_SEL, QUEUE_NUM_MAX, QUEUE_NUM, QUEUE_READY,
        QUEUE_NOTIFY, INTERRUPT_STATUS, INTERRUPT_ACK, STATUS, QUEUE_DESC_LOW, QUEUE_DESC_HIGH, QUEUE_DRIVER_LOW,
        QUEUE_DRIVER_HIGH, QUEUE_DEVICE_LOW, QUEUE_DEVICE_HIGH, SHM_SEL, SHM_LEN_LOW, SHM_LEN_HIGH, SHM_BASE_LOW,
        SHM_BASE_HIGH, QUEUE_RESET, CONFIG_GENERATION, 0x018, 0x028, 0x03c, 0x040, 0x048, 0x04c, 0x054, 0x068, 0x0a8,
        0x0c4, 0x0f8, CONFIG, CONFIG + 1, CONFIG + 2, CONFIG + 3, CONFIG + 4, CONFIG + 5, CONFIG + 6, CONFIG + 8,
        CONFIG + 12, CONFIG + 13, CONFIG + 14, CONFIG + 15, CONFIG + 16, CONFIG + 0x100, 0xffc, 0x1000, -4,
        Integer.MIN_VALUE};
    private static final int[] WIDTHS = {4, 4, 4, 4, 1, 2, 8, 3, 0, -1};
    private static final int[] VALUES = {0, 1, 2, 3, 4, 7, 8, 0xf, 0x10, 0x20, 0x40, 0x80, 0xff, 0x100, 0x101, 0x3ff,
        0x400, 0x8000, 0xffff, 0x10000, 0x7fff_ffff, 0x8000_0000, -1, (int) MmioFuzzRig.RAM_BASE,
        (int) MmioFuzzRig.RAM_BASE + 0x1000, 0x1_0001, 0xffff_0000};
    private static final int[] STATUS_VALUES = {0, 1, 3, 0xb, 0xf, 0x7, 0x5, 0x9, 0x80, 0x8b, 0x40, 0x4f, 0x30, 0x10,
        0x100, 0x103, 0xff, 0x2, 0x4, 0x8, 0x8f};
    private static final int[] QUEUE_SIZES = {0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 3, 6, 100, 32768, 65536, -1};

    /** One driver or host operation. */
    private sealed interface Op {
    }

    /** A raw register write through the window, or through the machine's bus (at the window or anywhere). */
    private record RawWrite(int offset, int width, int value, int bus, long address) implements Op {
    }

    private record RawRead(int offset, int width, int bus, long address) implements Op {
    }

    private record StatusWrite(int value) implements Op {
    }

    /** QueueSel, then one queue register: 0 QueueNum, 1 QueueReady, 2 QueueReset, 3 area halves, 4 QueueNumMax read. */
    private record QueueCtl(int queue, int register, int value) implements Op {
    }

    /** The test kit's whole bring-up with valid features. */
    private record KitInit(long features, int queues, int size) implements Op {
    }

    /** One bring-up step of the test kit: 0 ACK, 1 DRIVER, 2 negotiate, 3 setupQueue, 4 DRIVER_OK, 5 unbind. */
    private record KitStep(int step, long features, int queue, int size) implements Op {
    }

    /** A chain on a kit queue (readable bytes, writable bytes, maybe indirect), maybe kicked. */
    private record Add(int queue, int outLen, int inLen, boolean indirect, boolean kick) implements Op {
    }

    private record Notify(int value) implements Op {
    }

    private record Harvest(int queue) implements Op {
    }

    /** InterruptACK with a value, or the kit's interrupt handler (read and acknowledge what is set). */
    private record Ack(int value, boolean handler) implements Op {
    }

    private record Reset(boolean poll) implements Op {
    }

    /** Host events: 0 configuration change, 1 release held chains, 2 device-side failure, 3 device code throws. */
    private record Host(int kind, int arg) implements Op {
    }

    /** Two operations without waiting for the device in between: 0 kick+reset, 1 kick+QueueReady=0, 2 kick+QueueReset, 3 release+reset. */
    private record Race(int kind, int queue) implements Op {
    }

    /** Corrupts a kit queue's ring: 0 avail idx, 1 avail entry, 2 descriptor addr, 3 descriptor len, 4 flags, 5 next. */
    private record Scribble(int queue, int field, int index, long value) implements Op {
    }

    private static final int KINDS = 14;

    private static List<Op> decode(FuzzedDataProvider data) {
        List<Op> ops = new ArrayList<>();
        while (data.remainingBytes() > 0 && ops.size() < 48) {
            int kind = data.consumeInt(0, KINDS - 1);
            ops.add(switch (kind) {
                case 0 -> new RawWrite(pick(data, OFFSETS), pick(data, WIDTHS), value(data), data.consumeInt(0, 3),
                        data.consumeLong());
                case 1 -> new RawRead(pick(data, OFFSETS), pick(data, WIDTHS), data.consumeInt(0, 3), data.consumeLong());
                case 2 -> new StatusWrite(data.consumeBoolean() ? pick(data, STATUS_VALUES) : data.consumeInt());
                case 3 -> new QueueCtl(data.consumeBoolean() ? data.consumeInt(0, 3) : data.consumeInt(),
                        data.consumeInt(0, 4), data.consumeBoolean() ? pick(data, QUEUE_SIZES) : value(data));
                case 4 -> new KitInit(data.consumeLong(), data.consumeInt(1, 3), pick(data, QUEUE_SIZES));
                case 5 -> new KitStep(data.consumeInt(0, 5), data.consumeLong(), data.consumeInt(0, 3),
                        pick(data, QUEUE_SIZES));
                case 6 -> new Add(data.consumeInt(0, 2), data.consumeInt(0, 600), data.consumeInt(0, 600),
                        data.consumeBoolean(), data.consumeBoolean());
                case 7 -> new Notify(data.consumeBoolean() ? data.consumeInt(0, 3) : value(data));
                case 8 -> new Harvest(data.consumeInt(0, 2));
                case 9 -> new Ack(data.consumeInt(0, 7), data.consumeBoolean());
                case 10 -> new Reset(data.consumeBoolean());
                case 11 -> new Host(data.consumeInt(0, 3), data.consumeInt(0, 70));
                case 12 -> new Race(data.consumeInt(0, 3), data.consumeInt(0, 2));
                default -> new Scribble(data.consumeInt(0, 2), data.consumeInt(0, 5), data.consumeInt(0, 300),
                        data.consumeLong());
            });
        }
        return ops;
    }

    private static int pick(FuzzedDataProvider data, int[] table) {
        return table[data.consumeInt(0, table.length - 1)];
    }

    private static int value(FuzzedDataProvider data) {
        return data.consumeBoolean() ? pick(data, VALUES) : data.consumeInt();
    }

    /** The features a well-behaved driver may ask for: a subset of the offer with the device's rule kept. */
    private static FeatureSet validFeatures(long bits) {
        FeatureSet f = FeatureSet.of(ReservedFeature.VIRTIO_F_VERSION_1);
        int[] optional = {0, 1, ReservedFeature.VIRTIO_F_INDIRECT_DESC.bit(), ReservedFeature.VIRTIO_F_EVENT_IDX.bit(),
            ReservedFeature.VIRTIO_F_RING_RESET.bit(), ReservedFeature.VIRTIO_F_NOTIFICATION_DATA.bit()};
        for (int i = 0; i < optional.length; i++) {
            if ((bits & (1L << i)) != 0) {
                f = f.with(optional[i]);
            }
        }
        if (f.contains(1)) {
            f = f.with(0);
        }
        return f;
    }

    @FuzzTest
    void registerSequences(FuzzedDataProvider data) {
        long finalFeatures = data.consumeLong();
        List<Op> ops = decode(data);
        try {
            Oracle.withTimingConfirmation(MmioFuzzRig::discard, () -> new Run(MmioFuzzRig.forInput(RAM_SIZE)).execute(ops,
                    validFeatures(finalFeatures)));
        } catch (Finding f) {
            throw Finding.describe(f, ops);
        }
        MmioFuzzRig.inputPassed();
    }

    /** The execution of one input. */
    private static final class Run {
        private final MmioFuzzRig rig;
        private final FuzzDevice device;
        private final VirtioMmioDriver driver;
        /** Only well-formed driver steps so far: the strict part of the oracle applies. */
        private boolean trusted = true;
        /** The kit brought the device up and nothing reset it since. */
        private boolean kitLive;
        /** A host event made the device fail on purpose. */
        private boolean deviceFailed;
        private final DriverQueue[] queues = new DriverQueue[3];
        private final boolean[] kickedSinceAdd = new boolean[3];

        Run(MmioFuzzRig rig) {
            this.rig = rig;
            this.device = rig.device;
            this.driver = rig.driver;
        }

        void execute(List<Op> ops, FeatureSet finalFeatures) {
            int step = 0;
            for (Op op : ops) {
                String what = "op " + step++ + " " + op;
                Oracle.run(what, () -> apply(op));
                rig.settle(what);
                int status = rig.observe();
                rig.checkBounded();
                if (trusted && !deviceFailed) {
                    Oracle.check((status & DeviceStatus.DEVICE_NEEDS_RESET) == 0,
                            what + ": DEVICE_NEEDS_RESET though the driver only did well-formed things: "
                                    + device.needsResetReason().orElse("?"));
                }
            }
            rig.checkNeverWedged(finalFeatures, 8);
        }

        private void untrusted() {
            trusted = false;
        }

        private void apply(Op op) {
            var w = rig.window;
            switch (op) {
                case RawWrite r -> {
                    boolean harmless = r.width() == 4 && (r.offset() == INTERRUPT_ACK || r.offset() == QUEUE_NOTIFY
                            || r.offset() == CONFIG + 4) && r.bus() != 2;
                    if (!harmless) {
                        untrusted();
                    }
                    switch (r.bus()) {
                        case 0, 1 -> w.write(r.offset(), r.width(), r.value());
                        case 2 -> rig.machine.write(r.address(), r.width(), r.value());
                        default -> rig.machine.write(w.baseAddress() + r.offset(), r.width(), r.value());
                    }
                }
                case RawRead r -> {
                    int v = switch (r.bus()) {
                        case 0, 1 -> w.read(r.offset(), r.width());
                        case 2 -> rig.machine.read(r.address(), r.width());
                        default -> rig.machine.read(w.baseAddress() + r.offset(), r.width());
                    };
                    if (r.bus() != 2 && r.width() == 4 && r.offset() == QUEUE_NUM_MAX) {
                        Oracle.check(v == 0 || v == 256 || v == 64 || v == 16, "QueueNumMax " + v);
                    }
                }
                case StatusWrite s -> {
                    untrusted();
                    w.write(STATUS, 4, s.value());
                }
                case QueueCtl c -> {
                    untrusted();
                    w.write(QUEUE_SEL, 4, c.queue());
                    switch (c.register()) {
                        case 0 -> w.write(QUEUE_NUM, 4, c.value());
                        case 1 -> w.write(QUEUE_READY, 4, c.value());
                        case 2 -> w.write(QUEUE_RESET, 4, c.value());
                        case 3 -> w.write(QUEUE_DESC_LOW + 0x10 * (c.value() & 3) + (c.value() & 4), 4, c.value());
                        default -> {
                            int max = w.read(QUEUE_NUM_MAX, 4);
                            int expected = c.queue() >= 0 && c.queue() < 3 ? FuzzDevice.MAX_SIZES[c.queue()] : 0;
                            Oracle.check(max == 0 || max == expected, "QueueNumMax of queue " + c.queue() + ": " + max);
                        }
                    }
                }
                case KitInit k -> kitInit(k);
                case KitStep k -> kitStep(k);
                case Add a -> add(a);
                case Notify n -> {
                    // Any value is harmless: one that names no queue is ignored (HD-05), so trust stays.
                    w.write(QUEUE_NOTIFY, 4, n.value());
                    if (n.value() >= 0 && n.value() < 3) {
                        kickedSinceAdd[n.value()] = true;
                    }
                }
                case Harvest h -> harvest(h.queue());
                case Ack a -> {
                    if (a.handler()) {
                        driver.handleInterrupt();
                    } else {
                        w.write(INTERRUPT_ACK, 4, a.value());
                    }
                }
                case Reset r -> {
                    kitLive = false;
                    if (r.poll()) {
                        rig.resetAndAwait("kit reset");
                    } else {
                        driver.resetWithoutPolling();
                    }
                }
                case Host h -> host(h);
                case Race r -> race(r);
                case Scribble s -> scribble(s);
            }
        }

        private void kitInit(KitInit k) {
            int size = SplitRing.isValidSize(k.size()) && k.size() <= 256 ? k.size() : 8;
            FeatureSet features = validFeatures(k.features());
            device.clearInjectedFailure(); // A fresh start: a failure injected earlier and never triggered is void.
            try {
                List<DriverQueue> list = driver.initialize(features, k.queues(), size);
                java.util.Arrays.fill(queues, null);
                for (int q = 0; q < list.size(); q++) {
                    queues[q] = list.get(q);
                    kickedSinceAdd[q] = true;
                }
                kitLive = true;
                deviceFailed = false;
            } catch (DriverException e) {
                if (trusted) {
                    throw new Finding("the kit could not bring the device up with " + features + ": " + e.getMessage(), e);
                }
                kitLive = false;
                java.util.Arrays.fill(queues, null);
            }
        }

        private void kitStep(KitStep k) {
            untrusted();
            kitLive = false;
            try {
                switch (k.step()) {
                    case 0 -> driver.addStatus(DeviceStatus.ACKNOWLEDGE);
                    case 1 -> driver.addStatus(DeviceStatus.DRIVER);
                    case 2 -> driver.negotiate(FeatureSet.EMPTY.withWord(0, (int) k.features())
                            .withWord(1, (int) (k.features() >>> 32)));
                    case 3 -> {
                        int size = SplitRing.isValidSize(k.size()) && k.size() <= 256 ? k.size() : 4;
                        queues[k.queue() % 3] = driver.setupQueue(k.queue(), size);
                    }
                    case 4 -> driver.driverOk();
                    default -> {
                        driver.unbind();
                        java.util.Arrays.fill(queues, null);
                    }
                }
            } catch (DriverException e) {
                // The device refused a step; the kit says so. Not a finding for an out-of-order driver.
            }
        }

        private void add(Add a) {
            DriverQueue q = queues[a.queue()];
            if (q == null) {
                return;
            }
            int in = a.outLen() == 0 && a.inLen() == 0 ? 1 : a.inLen();
            int needed = a.indirect() ? 1 : (a.outLen() > 0 ? 1 : 0) + (in > 0 ? 1 : 0);
            if (q.size() - q.inFlight() < needed || rig.allocator.freeBytes() < 64 * 1024) {
                return; // The driver would wait for used buffers; not the device's problem.
            }
            List<byte[]> out = new ArrayList<>();
            if (a.outLen() > 0) {
                byte[] b = new byte[a.outLen()];
                for (int i = 0; i < b.length; i++) {
                    b[i] = (byte) (i * 7 + a.outLen());
                }
                out.add(b);
            }
            int[] inbound = in > 0 ? new int[] {in} : new int[0];
            if (a.indirect()) {
                if (!device.negotiatedFeatures().contains(ReservedFeature.VIRTIO_F_INDIRECT_DESC)) {
                    untrusted(); // Indirect without the feature: a driver bug (HD-26), the device may enter NEEDS_RESET.
                }
                q.addIndirect(out, inbound);
            } else {
                q.add(out, inbound);
            }
            kickedSinceAdd[a.queue()] = false;
            if (a.kick()) {
                q.kick();
                kickedSinceAdd[a.queue()] = true;
            }
        }

        private void harvest(int index) {
            DriverQueue q = queues[index];
            if (q == null) {
                return;
            }
            try {
                q.harvest();
            } catch (DriverException e) {
                if (trusted) {
                    throw new Finding("the driver found a broken used ring on queue " + index + ": " + e.getMessage(), e);
                }
                queues[index] = null; // The kit's view is lost; the device's answer to a hostile ring is not checked here.
                return;
            }
            if (trusted && kitLive && !deviceFailed && index != FuzzDevice.HOLD && kickedSinceAdd[index]) {
                Oracle.check(q.inFlight() == 0, "queue " + index + ": " + q.inFlight()
                        + " kicked buffers did not come back (lost notification or stalled device); " + device.queueInfo(index));
            }
        }

        private void host(Host h) {
            switch (h.kind()) {
                case 0 -> device.resize(h.arg());
                case 1 -> device.release(h.arg());
                case 2 -> {
                    deviceFailed = true;
                    device.hostFailure();
                }
                default -> {
                    deviceFailed = true;
                    device.failNextPass();
                }
            }
        }

        private void race(Race r) {
            untrusted();
            kitLive = false;
            var w = rig.window;
            w.write(QUEUE_NOTIFY, 4, r.queue());
            switch (r.kind()) {
                case 0 -> w.write(STATUS, 4, 0);
                case 1 -> {
                    w.write(QUEUE_SEL, 4, r.queue());
                    w.write(QUEUE_READY, 4, 0);
                }
                case 2 -> {
                    w.write(QUEUE_SEL, 4, r.queue());
                    w.write(QUEUE_RESET, 4, 1);
                }
                default -> {
                    device.release(64);
                    w.write(STATUS, 4, 0);
                }
            }
        }

        private void scribble(Scribble s) {
            DriverQueue q = queues[s.queue()];
            if (q == null) {
                return;
            }
            untrusted();
            int i = s.index() % q.size();
            switch (s.field()) {
                case 0 -> q.setAvailIdx((int) s.value());
                case 1 -> q.setAvailEntry(i, (int) s.value());
                default -> {
                    long at = q.descriptorArea() + (long) i * SplitRing.DESCRIPTOR_SIZE;
                    try {
                        switch (s.field()) {
                            case 2 -> rig.ram.writeLong(at, s.value());
                            case 3 -> rig.ram.writeInt(at + 8, (int) s.value());
                            case 4 -> rig.ram.writeShort(at + 12, (short) s.value());
                            default -> rig.ram.writeShort(at + 14, (short) s.value());
                        }
                    } catch (dev.peridot.virtio.memory.GuestMemoryException e) {
                        throw new IllegalStateException(e);
                    }
                }
            }
            q.notifyDevice();
        }
    }
}
