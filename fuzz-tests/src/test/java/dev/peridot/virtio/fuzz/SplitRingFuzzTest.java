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
import dev.peridot.virtio.fuzz.support.RingModel;
import dev.peridot.virtio.memory.GuestMemoryException;
import dev.peridot.virtio.queue.SplitRing;
import dev.peridot.virtio.testkit.DriverException;
import dev.peridot.virtio.testkit.DriverQueue;
import java.util.ArrayList;
import java.util.List;

/**
 * Target 2: split rings. A test-kit driver brings a {@link FuzzDevice} up (features and queue
 * size from the fuzzer: INDIRECT_DESC, EVENT_IDX, sizes 1 to 256); then the fuzzer's bytes
 * become descriptor table entries, indirect table entries, available ring entries and indices,
 * suppression fields, data and arbitrary pokes into guest RAM, with addresses and lengths drawn
 * from the places that matter (inside a data area, on the queue's own rings, at the end of RAM,
 * outside RAM, wrapping, huge), interleaved with kicks of the loopback or the hold queue and
 * host releases of held chains. The device processes them through 'Virtqueue Access'.
 *
 * <p>Oracle: besides the shared one (no exception escapes, bounded time, Status invariants,
 * never wedged), an independent {@link RingModel} predicts every kick: RAM after the device is
 * done must equal the prediction byte for byte (the device wrote exactly the used entries,
 * indices, avail_event and buffer bytes it should: never a readable buffer, never outside the
 * chains it validated), DEVICE_NEEDS_RESET must be set exactly when the model found a
 * violation, and a used buffer notification must be sent exactly when the suppression fields
 * ask for one.
 */
class SplitRingFuzzTest {

    private static final long RAM_SIZE = 256 * 1024;
    private static final long BASE = MmioFuzzRig.RAM_BASE;
    private static final long DATA = BASE + 0x1_0000;
    private static final long DATA_SIZE = 0x1_0000;
    private static final long TABLES = BASE + 0x2_0000;
    private static final int TABLE_ENTRIES = 1100;
    private static final int[] SIZES = {1, 2, 4, 8, 8, 16, 16, 32, 64, 128, 256};

    private sealed interface Op {
    }

    /** Descriptor {@code index} of the table (or of the indirect area when {@code table}). */
    private record Desc(boolean table, int index, Address address, long length, int flags, int next) implements Op {
    }

    /**
     * Where a buffer or table points: 0 anywhere in RAM, 1 on or next to one of the queue's rings,
     * 2 at the end of RAM, 3 a special address (0, just outside RAM, wrapping, ...), 4 any 64-bit
     * value, 5 the indirect-table area, 6 the data area.
     */
    private record Address(int mode, long arg) {
    }

    /** A well-formed chain of {@code readable} then {@code writable} descriptors from {@code first}, published. */
    private record Chain(int first, int readable, int writable, int length, boolean viaTable) implements Op {
    }

    private record Publish(int head) implements Op {
    }

    private record AvailIdx(int value) implements Op {
    }

    private record AvailEntry(int slot, int head) implements Op {
    }

    /** avail.flags (0) or used_event (1). */
    private record Suppress(int field, int value) implements Op {
    }

    /** A 1-, 2-, 4- or 8-byte write anywhere in RAM (rings, used ring, tables, data). */
    private record Poke(long offset, int width, long value) implements Op {
    }

    private record Fill(long offset, int length, int seed) implements Op {
    }

    private record Kick() implements Op {
    }

    private record Release(int count) implements Op {
    }

    private record Input(boolean indirect, boolean eventIdx, int queue, int size, List<Op> ops) {
    }

    private static Input decode(FuzzedDataProvider data) {
        boolean indirect = data.consumeBoolean();
        boolean eventIdx = data.consumeBoolean();
        int queue = data.consumeBoolean() ? FuzzDevice.HOLD : FuzzDevice.LOOPBACK;
        int size = Math.min(SIZES[data.consumeInt(0, SIZES.length - 1)], FuzzDevice.MAX_SIZES[queue]);
        List<Op> ops = new ArrayList<>();
        while (data.remainingBytes() > 0 && ops.size() < 64) {
            ops.add(switch (data.consumeInt(0, 11)) {
                case 0, 1 -> new Desc(false, data.consumeInt(0, size - 1), address(data, size), length(data, size),
                        flags(data), next(data, size));
                case 2 -> new Desc(true, data.consumeInt(0, TABLE_ENTRIES - 1), address(data, size), length(data, size),
                        flags(data), data.consumeBoolean() ? data.consumeInt(0, 8) : data.consumeInt(0, 0xffff));
                case 3, 4 -> new Chain(data.consumeInt(0, size - 1), data.consumeInt(0, 3), data.consumeInt(0, 3),
                        data.consumeInt(0, 300), data.consumeBoolean());
                case 5 -> new Publish(data.consumeBoolean() ? data.consumeInt(0, size - 1) : data.consumeInt(0, 0xffff));
                case 6 -> new AvailIdx(data.consumeInt(0, 0xffff));
                case 7 -> new AvailEntry(data.consumeInt(0, size - 1), data.consumeInt(0, 0xffff));
                case 8 -> new Suppress(data.consumeInt(0, 1), data.consumeInt(0, 0xffff));
                case 9 -> new Poke(data.consumeLong(0, RAM_SIZE - 8), 1 << data.consumeInt(0, 3), data.consumeLong());
                case 10 -> new Fill(data.consumeLong(0, RAM_SIZE - 1), data.consumeInt(0, 512), data.consumeInt());
                default -> data.consumeBoolean() ? new Kick() : new Release(data.consumeInt(0, 70));
            });
        }
        return new Input(indirect, eventIdx, queue, size, ops);
    }

    private static Address address(FuzzedDataProvider data, int size) {
        int mode = data.consumeInt(0, 7);
        return new Address(Math.min(mode, 6), data.consumeLong());
    }

    /** The guest address an {@link Address} stands for, once the queue's rings are known. */
    private static long resolve(Address address, DriverQueue queue) {
        long arg = address.arg();
        long a = arg & Long.MAX_VALUE;
        return switch (address.mode()) {
            case 0 -> BASE + a % RAM_SIZE;
            case 1 -> new long[] {queue.descriptorArea(), queue.driverArea(), queue.deviceArea()}[(int) (a % 3)]
                    + (a / 3) % 80 - 16;
            case 2 -> BASE + RAM_SIZE - 1 - a % 4096;
            case 3 -> new long[] {0, BASE - 1, BASE - 16, BASE + RAM_SIZE, Long.MAX_VALUE, -1, Long.MIN_VALUE + 1,
                0xffff_ffff_ffff_f000L, BASE + RAM_SIZE - 16, BASE - 0x1_0000_0000L}[(int) (a % 10)];
            case 4 -> arg;
            case 5 -> TABLES + 16L * (a % TABLE_ENTRIES);
            default -> DATA + a % DATA_SIZE;
        };
    }

    private static long length(FuzzedDataProvider data, int size) {
        int arg = data.consumeInt();
        int a = arg & Integer.MAX_VALUE;
        return switch (data.consumeInt(0, 5)) {
            case 0, 1 -> a % 65;
            case 2 -> a % 4097;
            case 3 -> 16L * (a % 70);
            case 4 -> new long[] {0, 1, 15, 16, 17, 0xffff_ffffL, 0x8000_0000L, 0x7fff_ffffL, RAM_SIZE, 16 * 1024,
                16 * 1025, 16L * size, DATA_SIZE, 0x1_0000_0000L - 16}[a % 14];
            default -> arg & 0xffff_ffffL;
        };
    }

    private static int flags(FuzzedDataProvider data) {
        return data.consumeBoolean() ? data.consumeInt(0, 7) : data.consumeInt(0, 0xffff);
    }

    private static int next(FuzzedDataProvider data, int size) {
        return data.consumeBoolean() ? data.consumeInt(0, size - 1) : data.consumeInt(0, 0xffff);
    }

    @FuzzTest
    void rings(FuzzedDataProvider data) {
        Input input = decode(data);
        try {
            Oracle.withTimingConfirmation(MmioFuzzRig::discard, () -> new Run(MmioFuzzRig.forInput(RAM_SIZE), input).execute());
        } catch (Finding f) {
            throw Finding.describe(f, input);
        }
        MmioFuzzRig.inputPassed();
    }

    /** One input's execution. */
    private static final class Run {
        private final MmioFuzzRig rig;
        private final Input in;
        private DriverQueue queue;
        private RingModel model;
        private int availIdx;

        Run(MmioFuzzRig rig, Input in) {
            this.rig = rig;
            this.in = in;
        }

        void execute() {
            FeatureSet features = FeatureSet.of(ReservedFeature.VIRTIO_F_VERSION_1);
            if (in.indirect()) {
                features = features.with(ReservedFeature.VIRTIO_F_INDIRECT_DESC);
            }
            if (in.eventIdx()) {
                features = features.with(ReservedFeature.VIRTIO_F_EVENT_IDX);
            }
            FeatureSet f = features;
            List<DriverQueue> queues = Oracle.call("bring-up", () -> {
                try {
                    return rig.driver.initialize(f, in.queue() + 1, in.size());
                } catch (DriverException e) {
                    throw new Finding("the kit could not bring the device up: " + e.getMessage(), e);
                }
            });
            queue = queues.get(in.queue());
            rig.settle("bring-up");
            model = new RingModel(BASE, in.size(), queue.descriptorArea(), queue.driverArea(), queue.deviceArea(),
                    in.eventIdx(), in.indirect());
            int step = 0;
            for (Op op : in.ops()) {
                String what = "op " + step++ + " " + op;
                switch (op) {
                    case Kick k -> predictAndCompare(what, () -> rig.window.write(QUEUE_NOTIFY, 4, in.queue()),
                            in.queue() == FuzzDevice.HOLD ? model::processHold : model::processLoopback);
                    case Release r -> predictAndCompare(what, () -> rig.device.release(r.count()),
                            () -> model.release(r.count()));
                    default -> Oracle.run(what, () -> apply(op));
                }
            }
            predictAndCompare("final kick", () -> rig.window.write(QUEUE_NOTIFY, 4, in.queue()),
                    in.queue() == FuzzDevice.HOLD ? model::processHold : model::processLoopback);
            if (in.queue() == FuzzDevice.HOLD) {
                predictAndCompare("final release", () -> rig.device.release(FuzzDevice.MAX_SIZES[FuzzDevice.HOLD]),
                        () -> model.release(FuzzDevice.MAX_SIZES[FuzzDevice.HOLD]));
            }
            rig.checkNeverWedged(features, 8);
        }

        /** Runs a device step and the model's prediction of it, and compares RAM, NEEDS_RESET and the notification. */
        private void predictAndCompare(String what, Oracle.VoidStep deviceStep, Runnable modelStep) {
            rig.window.write(INTERRUPT_ACK, 4, 3);
            model.load(rig.snapshot());
            boolean wasBroken = model.broken();
            modelStep.run();
            Oracle.run(what, deviceStep);
            rig.settle(what);
            int status = rig.observe();
            rig.checkBounded();
            boolean needsReset = (status & DeviceStatus.DEVICE_NEEDS_RESET) != 0;
            Oracle.check(needsReset == model.broken(), what + ": the model " + (model.broken()
                    ? "found a violation (" + model.fault() + ") but the device did not enter NEEDS_RESET"
                    : "found the ring valid but the device entered NEEDS_RESET: " + rig.device.needsResetReason().orElse("?")));
            byte[] actual = rig.snapshot();
            byte[] predicted = model.memory();
            int diff = java.util.Arrays.mismatch(actual, predicted);
            Oracle.check(diff < 0, what + ": RAM differs from the model at 0x" + Long.toHexString(BASE + Math.max(diff, 0))
                    + String.format(" (device wrote %02x, model %02x); desc 0x%x avail 0x%x used 0x%x",
                    diff < 0 ? 0 : actual[diff], diff < 0 ? 0 : predicted[diff], queue.descriptorArea(),
                    queue.driverArea(), queue.deviceArea()));
            int isr = rig.window.read(INTERRUPT_STATUS, 4);
            Oracle.check(((isr & INTERRUPT_USED_RING) != 0) == model.notified(), what + ": used buffer notification "
                    + ((isr & INTERRUPT_USED_RING) != 0) + ", the suppression fields say " + model.notified());
            if (model.broken() && !wasBroken) {
                Oracle.check((isr & INTERRUPT_CONFIG_CHANGE) != 0, what + ": NEEDS_RESET without a configuration change notification");
            }
            Oracle.check(in.queue() != FuzzDevice.HOLD || rig.device.heldCount() == model.heldCount(),
                    what + ": the device holds " + rig.device.heldCount() + " chains, the model " + model.heldCount());
        }

        private void apply(Op op) throws GuestMemoryException {
            var ram = rig.ram;
            switch (op) {
                case Desc d -> {
                    long at = d.table() ? TABLES + 16L * d.index() : queue.descriptorArea() + 16L * d.index();
                    writeDescriptor(at, resolve(d.address(), queue), d.length(), d.flags(), d.next());
                }
                case Chain c -> chain(c);
                case Publish p -> publish(p.head());
                case AvailIdx a -> {
                    availIdx = a.value();
                    ram.writeShort(queue.driverArea() + SplitRing.RING_IDX, (short) availIdx);
                }
                case AvailEntry a -> ram.writeShort(queue.driverArea() + SplitRing.availEntryOffset(a.slot()), (short) a.head());
                case Suppress s -> ram.writeShort(queue.driverArea() + (s.field() == 0 ? SplitRing.RING_FLAGS
                        : SplitRing.usedEventOffset(in.size())), (short) s.value());
                case Poke p -> {
                    long at = BASE + p.offset();
                    switch (p.width()) {
                        case 1 -> ram.writeByte(at, (byte) p.value());
                        case 2 -> ram.writeShort(at, (short) p.value());
                        case 4 -> ram.writeInt(at, (int) p.value());
                        default -> ram.writeLong(at, p.value());
                    }
                }
                case Fill f -> {
                    int len = (int) Math.min(f.length(), RAM_SIZE - f.offset());
                    byte[] b = new byte[len];
                    for (int i = 0; i < len; i++) {
                        b[i] = (byte) (f.seed() * (i + 1) >>> 3);
                    }
                    ram.write(BASE + f.offset(), b, 0, len);
                }
                default -> throw new IllegalStateException(op.toString());
            }
        }

        private void writeDescriptor(long at, long address, long length, int flags, int next) throws GuestMemoryException {
            rig.ram.writeLong(at, address);
            rig.ram.writeInt(at + 8, (int) length);
            rig.ram.writeShort(at + 12, (short) flags);
            rig.ram.writeShort(at + 14, (short) next);
        }

        /** A well-formed chain in the data area (direct, or through a table when the feature allows). */
        private void chain(Chain c) throws GuestMemoryException {
            int count = Math.max(1, c.readable() + c.writable());
            boolean table = c.viaTable() && in.indirect();
            int len = Math.max(1, c.length());
            long buffer = DATA + ((long) c.first() * 977 + (long) availIdx * 131) % (DATA_SIZE - 4 * 301);
            if (table) {
                long t = TABLES + 16L * ((c.first() * 37L + availIdx) % (TABLE_ENTRIES - 8));
                for (int i = 0; i < count; i++) {
                    boolean w = i >= c.readable();
                    writeDescriptor(t + 16L * i, buffer + (long) i * len, len,
                            (w ? SplitRing.DESC_F_WRITE : 0) | (i < count - 1 ? SplitRing.DESC_F_NEXT : 0), i + 1);
                }
                writeDescriptor(queue.descriptorArea() + 16L * c.first(), t, 16L * count, SplitRing.DESC_F_INDIRECT, 0);
            } else {
                count = Math.min(count, in.size());
                for (int i = 0; i < count; i++) {
                    int d = (c.first() + i) % in.size();
                    boolean w = i >= Math.min(c.readable(), count);
                    writeDescriptor(queue.descriptorArea() + 16L * d, buffer + (long) i * len, len,
                            (w ? SplitRing.DESC_F_WRITE : 0) | (i < count - 1 ? SplitRing.DESC_F_NEXT : 0),
                            (d + 1) % in.size());
                }
            }
            publish(c.first());
        }

        private void publish(int head) throws GuestMemoryException {
            rig.ram.writeShort(queue.driverArea() + SplitRing.availEntryOffset(availIdx % in.size()), (short) head);
            availIdx = (availIdx + 1) & 0xFFFF;
            rig.ram.writeShort(queue.driverArea() + SplitRing.RING_IDX, (short) availIdx);
        }
    }
}
