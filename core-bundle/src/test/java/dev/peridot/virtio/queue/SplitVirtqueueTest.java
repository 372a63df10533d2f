package dev.peridot.virtio.queue;

import static dev.peridot.virtio.queue.SplitRing.DESC_F_INDIRECT;
import static dev.peridot.virtio.queue.SplitRing.DESC_F_NEXT;
import static dev.peridot.virtio.queue.SplitRing.DESC_F_WRITE;
import static org.assertj.core.api.Assertions.assertThat;

import dev.peridot.virtio.device.DeviceStatus;
import dev.peridot.virtio.feature.FeatureSet;
import dev.peridot.virtio.testing.Await;
import dev.peridot.virtio.testing.DriverRing;
import dev.peridot.virtio.testing.DriverRing.Buffer;
import dev.peridot.virtio.testing.Rig;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** Split virtqueues through a live device (spec 2.7), including every hostile-driver ring input HD-20..HD-33. */
class SplitVirtqueueTest {

    private Rig rig;

    private Rig live(FeatureSet features, int size) {
        rig = new Rig(Rig.ALL_CORE, 256, 256);
        rig.bringUp(features, size);
        return rig;
    }

    @AfterEach
    void close() {
        if (rig != null) {
            rig.close();
        }
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    private void kick(int q) {
        rig.device.notifyQueue(q);
    }

    /** Asserts the device went to DEVICE_NEEDS_RESET with a config notification, used nothing, and recovers after a reset (HD-50). */
    private void assertNeedsResetAndRecovery(DriverRing ring, int usedBefore) {
        rig.awaitNeedsReset();
        Await.until(() -> rig.transport.configNotifications.get() > 0, "config notification");
        assertThat(ring.usedIdx()).as("nothing used after the fault").isEqualTo(usedBefore);
        assertThat(rig.device.needsResetReason()).isPresent();
        rig.device.writeStatus(0);
        assertThat(rig.device.status()).isZero();
        assertThat(rig.device.needsResetReason()).isEmpty();
        rig.bringUp(Rig.VERSION_1, 8);
        DriverRing tx = rig.ring(1);
        tx.post(Buffer.readable(rig.buffer(ascii("ok")), 2));
        kick(1);
        rig.awaitUsed(1, 1);
    }

    @Test
    @DisplayName("SPLIT-05: any descriptor framing carries the same bytes (1x5, 5x1, 2+3, 2+0+3)")
    void framingIsIrrelevant() {
        live(Rig.VERSION_1, 16);
        DriverRing tx = rig.ring(1);
        long h = rig.buffer(ascii("hello"));
        tx.post(Buffer.readable(h, 5));
        tx.post(Buffer.readable(h, 1), Buffer.readable(h + 1, 1), Buffer.readable(h + 2, 1), Buffer.readable(h + 3, 1),
                Buffer.readable(h + 4, 1));
        tx.post(Buffer.readable(h, 2), Buffer.readable(h + 2, 3));
        tx.post(Buffer.readable(h, 2), Buffer.readable(h + 2, 0), Buffer.readable(h + 2, 3));
        kick(1);
        rig.awaitUsed(1, 4);
        assertThat(rig.device.receivedBytes()).asString(StandardCharsets.US_ASCII).isEqualTo("hellohellohellohello");
    }

    @Test
    @DisplayName("SPLIT-35/36/37/39, VQ-01: used id is the head, len is the bytes written, 0 for a readable-only chain")
    void usedEntriesCarryHeadAndWrittenLength() {
        live(Rig.VERSION_1, 16);
        DriverRing rx = rig.ring(0);
        long a = rig.buffer(2);
        long b = rig.buffer(2);
        long c = rig.buffer(2);
        int rxHead = rx.post(Buffer.writable(a, 2), Buffer.writable(b, 2), Buffer.writable(c, 2));
        DriverRing tx = rig.ring(1);
        int txHead = tx.post(Buffer.readable(rig.buffer(ascii("x")), 1));
        kick(0);
        kick(1);
        rig.awaitUsed(0, 1);
        rig.awaitUsed(1, 1);
        assertThat(rx.usedEntry(0)).isEqualTo(new DriverRing.Used(rxHead, 6));
        assertThat(rig.read(b, 2)).containsExactly(0x5A, 0x5A);
        assertThat(tx.usedEntry(0)).isEqualTo(new DriverRing.Used(txHead, 0));
    }

    @Test
    @DisplayName("SPLIT-10/SPLIT-12: the device never writes a readable buffer or the descriptor table")
    void readableBuffersAndDescriptorsStayUntouched() {
        live(Rig.VERSION_1, 16);
        DriverRing tx = rig.ring(1);
        byte[] canary = new byte[64];
        Arrays.fill(canary, (byte) 0xA5);
        long buf = rig.buffer(canary);
        tx.post(Buffer.readable(buf, 64), Buffer.writable(rig.buffer(4), 4));
        byte[] table = rig.read(tx.desc, 16 * 16);
        kick(1);
        rig.awaitUsed(1, 1);
        assertThat(rig.read(buf, 64)).isEqualTo(canary);
        assertThat(rig.read(tx.desc, 16 * 16)).isEqualTo(table);
    }

    @Test
    @DisplayName("SPLIT-25: only entries below avail.idx are consumed, in ring order")
    void onlyPublishedEntriesAreConsumed() {
        live(Rig.VERSION_1, 8);
        DriverRing tx = rig.ring(1);
        long buf = rig.buffer(ascii("z"));
        for (int d : new int[] {5, 2, 7, 3}) {
            tx.writeDescriptor(d, buf, 1, 0, 0);
        }
        tx.setAvailEntry(0, 5);
        tx.setAvailEntry(1, 2);
        tx.setAvailEntry(2, 7);
        tx.setAvailEntry(3, 3);
        tx.setAvailIdx(3);
        kick(1);
        rig.awaitUsed(1, 3);
        Await.settle();
        assertThat(tx.usedIdx()).isEqualTo(3);
        assertThat(new int[] {tx.usedEntry(0).id(), tx.usedEntry(1).id(), tx.usedEntry(2).id()}).containsExactly(5, 2, 7);
    }

    @Test
    @DisplayName("SPLIT-27: indices wrap at 65536: 70000 one-byte buffers on a 4-entry queue arrive in order")
    void indicesWrapAround() {
        live(Rig.VERSION_1, 4);
        DriverRing tx = rig.ring(1);
        long buf = rig.buffer(256);
        for (int i = 0; i < 256; i++) {
            try {
                rig.memory.writeByte(buf + i, (byte) i);
            } catch (dev.peridot.virtio.memory.GuestMemoryException e) {
                throw new AssertionError(e);
            }
        }
        int total = 70_000;
        for (int i = 0; i < total; i++) {
            while (((tx.availIdx() - tx.usedIdx()) & 0xFFFF) >= 4) {
                Thread.onSpinWait();
            }
            tx.writeDescriptor(i % 4, buf + (i & 0xFF), 1, 0, 0);
            tx.publish(i % 4);
            kick(1);
        }
        rig.awaitUsed(1, total);
        byte[] got = rig.device.receivedBytes();
        assertThat(got).hasSize(total);
        for (int i = 0; i < total; i++) {
            if (got[i] != (byte) i) {
                throw new AssertionError("byte " + i + " out of order");
            }
        }
        assertThat(rig.device.status() & DeviceStatus.DEVICE_NEEDS_RESET).isZero();
    }

    @Test
    @DisplayName("HD-21: a chain of exactly the queue size is legal")
    void chainOfQueueSizeIsAccepted() {
        live(Rig.VERSION_1, 8);
        DriverRing tx = rig.ring(1);
        long buf = rig.buffer(ascii("abcdefgh"));
        Buffer[] all = new Buffer[8];
        for (int i = 0; i < 8; i++) {
            all[i] = Buffer.readable(buf + i, 1);
        }
        tx.post(all);
        kick(1);
        rig.awaitUsed(1, 1);
        assertThat(rig.device.receivedBytes()).asString(StandardCharsets.US_ASCII).isEqualTo("abcdefgh");
    }

    @Test
    @DisplayName("HD-20/HD-21/SPLIT-13/STAT-04/STAT-05: a descriptor loop (chain longer than the queue) is NEEDS_RESET, bounded")
    void loopIsNeedsReset() {
        live(Rig.VERSION_1, 8);
        DriverRing tx = rig.ring(1);
        long buf = rig.buffer(4);
        tx.writeDescriptor(0, buf, 1, DESC_F_NEXT, 1);
        tx.writeDescriptor(1, buf, 1, DESC_F_NEXT, 0);
        int[] statusAtNotification = {-1};
        rig.transport.onConfigNotification = () -> statusAtNotification[0] = rig.device.status();
        tx.publish(0);
        kick(1);
        rig.awaitNeedsReset();
        Await.until(() -> statusAtNotification[0] >= 0, "config notification");
        assertThat(statusAtNotification[0] & DeviceStatus.DEVICE_NEEDS_RESET)
                .as("STAT-05: the status bit is set before the notification").isNotZero();
        assertThat(rig.device.needsResetReason().orElseThrow()).contains("loop");
        assertNeedsResetAndRecovery(tx, 0);
    }

    @Test
    @DisplayName("HD-20: a self-loop is NEEDS_RESET")
    void selfLoop() {
        live(Rig.VERSION_1, 8);
        DriverRing tx = rig.ring(1);
        tx.writeDescriptor(3, rig.buffer(4), 1, DESC_F_NEXT, 3);
        tx.publish(3);
        kick(1);
        assertNeedsResetAndRecovery(tx, 0);
    }

    @Test
    @DisplayName("HD-22/SPLIT-15: next beyond the queue size is NEEDS_RESET")
    void nextBeyondQueueSize() {
        live(Rig.VERSION_1, 8);
        DriverRing tx = rig.ring(1);
        tx.writeDescriptor(0, rig.buffer(4), 1, DESC_F_NEXT, 8);
        tx.publish(0);
        kick(1);
        assertNeedsResetAndRecovery(tx, 0);
    }

    @Test
    @DisplayName("HD-23: buffer at 0, beyond RAM, spanning the end of RAM, or wrapping the address space is NEEDS_RESET")
    void badBufferAddresses() {
        long[][] cases = {
                {0, 16},
                {Rig.RAM_BASE + Rig.RAM_SIZE, 16},
                {Rig.RAM_BASE + Rig.RAM_SIZE - 8, 16},
                {0xFFFF_FFFF_FFFF_FFF0L, 0x20},
        };
        for (long[] c : cases) {
            live(Rig.VERSION_1, 8);
            DriverRing rx = rig.ring(0);
            rx.post(Buffer.writable(c[0], (int) c[1]));
            kick(0);
            assertNeedsResetAndRecovery(rx, 0);
            rig.close();
            rig = null;
        }
    }

    @Test
    @DisplayName("HD-24: length 0xFFFFFFFF and a chain over 2^32 bytes are NEEDS_RESET, without a large allocation")
    void hugeLengths() {
        live(Rig.VERSION_1, 8);
        DriverRing rx = rig.ring(0);
        rx.post(Buffer.writable(rig.buffer(16), -1));
        kick(0);
        assertNeedsResetAndRecovery(rx, 0);
        rig.close();
        live(Rig.VERSION_1, 8);
        DriverRing tx = rig.ring(1);
        long buf = rig.buffer(16);
        tx.post(Buffer.readable(buf, 0xFFFF_FFF0), Buffer.readable(buf, 0x20));
        kick(1);
        assertNeedsResetAndRecovery(tx, 0);
    }

    @Test
    @DisplayName("HD-25/SPLIT-07: a readable buffer after a writable one is NEEDS_RESET; the readable one is not written")
    void writableBeforeReadable() {
        live(Rig.VERSION_1, 8);
        DriverRing rx = rig.ring(0);
        long w = rig.buffer(4);
        long r = rig.buffer(new byte[] {9, 9, 9, 9});
        rx.post(Buffer.writable(w, 4), Buffer.readable(r, 4));
        kick(0);
        rig.awaitNeedsReset();
        assertThat(rig.read(r, 4)).containsExactly(9, 9, 9, 9);
        assertThat(rig.read(w, 4)).containsExactly(0, 0, 0, 0);
        assertNeedsResetAndRecovery(rx, 0);
    }

    @Test
    @DisplayName("SPLIT-16/17/18: a chain of direct descriptors ending in an indirect table, WRITE on the INDIRECT descriptor ignored")
    void indirectTables() {
        live(Rig.ALL_CORE, 8);
        DriverRing tx = rig.ring(1);
        long ab = rig.buffer(ascii("ab"));
        long cd = rig.buffer(ascii("cd"));
        long ef = rig.buffer(ascii("ef"));
        long table = writeTable(new long[][] {{cd, 2, DESC_F_NEXT, 1}, {ef, 2, 0, 0}});
        tx.writeDescriptor(0, ab, 2, DESC_F_NEXT, 1);
        tx.writeDescriptor(1, table, 32, DESC_F_INDIRECT | DESC_F_WRITE, 0);
        tx.publish(0);
        kick(1);
        rig.awaitUsed(1, 1);
        assertThat(rig.device.receivedBytes()).asString(StandardCharsets.US_ASCII).isEqualTo("abcdef");
        assertThat(tx.usedEntry(0).id()).isZero();
    }

    @Test
    @DisplayName("SPLIT-21: an indirect table longer than a small queue is fine within the device limit")
    void indirectTableLongerThanQueue() {
        live(Rig.ALL_CORE, 8);
        DriverRing tx = rig.ring(1);
        long buf = rig.buffer(ascii("0123456789abcdef"));
        long[][] entries = new long[16][];
        for (int i = 0; i < 16; i++) {
            entries[i] = new long[] {buf + i, 1, i < 15 ? DESC_F_NEXT : 0, i + 1};
        }
        tx.writeDescriptor(0, writeTable(entries), 16 * 16, DESC_F_INDIRECT, 0);
        tx.publish(0);
        kick(1);
        rig.awaitUsed(1, 1);
        assertThat(rig.device.receivedBytes()).asString(StandardCharsets.US_ASCII).isEqualTo("0123456789abcdef");
    }

    private long writeTable(long[][] entries) {
        long table = rig.alloc(16L * entries.length, 16);
        try {
            for (int i = 0; i < entries.length; i++) {
                long e = table + 16L * i;
                rig.memory.writeLong(e, entries[i][0]);
                rig.memory.writeInt(e + 8, (int) entries[i][1]);
                rig.memory.writeShort(e + 12, (short) entries[i][2]);
                rig.memory.writeShort(e + 14, (short) entries[i][3]);
            }
        } catch (dev.peridot.virtio.memory.GuestMemoryException e) {
            throw new AssertionError(e);
        }
        return table;
    }

    @Test
    @DisplayName("HD-26/SPLIT-19/20/22/24: every malformed indirect use is NEEDS_RESET")
    void malformedIndirect() {
        record Case(String name, FeatureSet features, int flags, int tableLength, boolean nested, boolean loop,
                    boolean outside) {
        }
        Case[] cases = {
                new Case("without the feature", Rig.VERSION_1, DESC_F_INDIRECT, 32, false, false, false),
                new Case("nested", Rig.ALL_CORE, DESC_F_INDIRECT, 32, true, false, false),
                new Case("INDIRECT|NEXT", Rig.ALL_CORE, DESC_F_INDIRECT | DESC_F_NEXT, 32, false, false, false),
                new Case("length not a multiple of 16", Rig.ALL_CORE, DESC_F_INDIRECT, 24, false, false, false),
                new Case("length 0", Rig.ALL_CORE, DESC_F_INDIRECT, 0, false, false, false),
                new Case("table outside RAM", Rig.ALL_CORE, DESC_F_INDIRECT, 32, false, false, true),
                new Case("loop inside the table", Rig.ALL_CORE, DESC_F_INDIRECT, 32, false, true, false),
                new Case("too many entries", Rig.ALL_CORE, DESC_F_INDIRECT, 16 * 2048, false, false, false),
        };
        for (Case c : cases) {
            live(c.features(), 8);
            DriverRing tx = rig.ring(1);
            long buf = rig.buffer(ascii("xy"));
            long table = c.outside() ? Rig.RAM_BASE + Rig.RAM_SIZE - 16
                    : writeTable(new long[][] {
                            {buf, 1, DESC_F_NEXT | (c.nested() ? DESC_F_INDIRECT : 0), 1},
                            {buf + 1, 1, c.loop() ? DESC_F_NEXT : 0, 0}});
            if (c.tableLength() > 32) {
                rig.alloc(c.tableLength(), 16);
            }
            tx.writeDescriptor(0, table, c.tableLength(), c.flags(), 1);
            tx.writeDescriptor(1, buf, 1, 0, 0);
            tx.publish(0);
            kick(1);
            rig.awaitNeedsReset();
            assertThat(rig.device.needsResetReason()).as(c.name()).isPresent();
            assertThat(rig.device.receivedBytes()).as(c.name()).isEmpty();
            rig.close();
            rig = null;
        }
    }

    @Test
    @DisplayName("HD-27/SPLIT-26: avail idx more than the queue size ahead is NEEDS_RESET, without spinning")
    void availIdxJump() {
        live(Rig.VERSION_1, 8);
        DriverRing tx = rig.ring(1);
        tx.setAvailIdx(9);
        kick(1);
        assertNeedsResetAndRecovery(tx, 0);
    }

    @Test
    @DisplayName("HD-27/SPLIT-26: avail idx going backwards is NEEDS_RESET")
    void availIdxBackwards() {
        live(Rig.VERSION_1, 8);
        DriverRing tx = rig.ring(1);
        long buf = rig.buffer(ascii("ab"));
        tx.post(Buffer.readable(buf, 1));
        tx.post(Buffer.readable(buf + 1, 1));
        kick(1);
        rig.awaitUsed(1, 2);
        tx.setAvailIdx(1);
        kick(1);
        assertNeedsResetAndRecovery(tx, 2);
    }

    @Test
    @DisplayName("HD-27: an avail idx exactly the queue size ahead, near the 16-bit wrap, is legal")
    void fullRingNearWrapIsLegal() {
        live(Rig.VERSION_1, 8);
        rig.device.hold = true;
        DriverRing tx = rig.ring(1);
        long buf = rig.buffer(ascii("abcdefgh"));
        for (int i = 0; i < 8; i++) {
            tx.writeDescriptor(i, buf + i, 1, 0, 0);
            tx.setAvailEntry(i, i);
        }
        tx.setAvailIdx(8);
        kick(1);
        Await.until(() -> rig.device.chainsSeen.get() == 8, "8 chains");
        assertThat(rig.device.queueInfo(1).inFlight()).isEqualTo(8);
        assertThat(rig.device.status() & DeviceStatus.DEVICE_NEEDS_RESET).isZero();
    }

    @Test
    @DisplayName("HD-28/SPLIT-15: an available ring entry beyond the queue size is NEEDS_RESET")
    void headBeyondQueueSize() {
        live(Rig.VERSION_1, 8);
        DriverRing tx = rig.ring(1);
        tx.setAvailEntry(0, 8);
        tx.setAvailIdx(1);
        kick(1);
        assertNeedsResetAndRecovery(tx, 0);
    }

    @Test
    @DisplayName("HD-28: the same head made available twice while in flight is NEEDS_RESET")
    void sameHeadTwiceInFlight() {
        live(Rig.VERSION_1, 8);
        rig.device.hold = true;
        DriverRing tx = rig.ring(1);
        int head = tx.addChain(Buffer.readable(rig.buffer(ascii("a")), 1));
        tx.publish(head);
        tx.publish(head);
        kick(1);
        rig.awaitNeedsReset();
        assertThat(rig.device.chainsSeen.get()).isEqualTo(1);
    }

    @Test
    @DisplayName("HD-29/SPLIT-41: the device keeps its own used index; a driver scribbling on the used ring changes nothing")
    void usedRingPoisoning() {
        rig = new Rig(Rig.ALL_CORE, 256, 256);
        rig.negotiate(Rig.VERSION_1);
        rig.program(0, 8);
        DriverRing tx = rig.program(1, 8);
        try {
            rig.memory.writeShort(tx.used + 2, (short) 7);
        } catch (dev.peridot.virtio.memory.GuestMemoryException e) {
            throw new AssertionError(e);
        }
        rig.device.setQueueReady(0, true);
        rig.device.setQueueReady(1, true);
        rig.device.writeStatus(0x0F);
        tx.post(Buffer.readable(rig.buffer(ascii("q")), 1));
        kick(1);
        rig.awaitUsed(1, 1);
        try {
            rig.memory.writeShort(tx.used + 2, (short) 0x1234);
            rig.memory.writeInt(tx.used + 4, 0xDEAD);
        } catch (dev.peridot.virtio.memory.GuestMemoryException e) {
            throw new AssertionError(e);
        }
        tx.post(Buffer.readable(rig.buffer(ascii("r")), 1));
        kick(1);
        rig.awaitUsed(1, 2);
        assertThat(tx.usedEntry(1).id()).isEqualTo(1);
        assertThat(rig.device.status() & DeviceStatus.DEVICE_NEEDS_RESET).isZero();
    }

    @Test
    @DisplayName("HD-31/STAT-03/INIT-05/07/08: kicks before DRIVER_OK are ignored; buffers posted early are processed at DRIVER_OK")
    void nothingHappensBeforeDriverOk() {
        rig = new Rig(Rig.ALL_CORE, 256, 256);
        rig.negotiate(Rig.VERSION_1);
        DriverRing rx = rig.program(0, 8);
        DriverRing tx = rig.program(1, 8);
        rig.device.setQueueReady(0, true);
        rig.device.setQueueReady(1, true);
        long canary = rig.buffer(new byte[] {(byte) 0xA5, (byte) 0xA5});
        rx.post(Buffer.writable(canary, 2));
        tx.post(Buffer.readable(rig.buffer(ascii("abc")), 3));
        kick(0);
        kick(1);
        Await.settle();
        assertThat(rx.usedIdx()).isZero();
        assertThat(tx.usedIdx()).isZero();
        assertThat(rig.read(canary, 2)).containsExactly(0xA5, 0xA5);
        assertThat(rig.transport.totalUsedNotifications()).isZero();
        rig.device.writeStatus(0x0F);
        rig.awaitUsed(1, 1);
        rig.awaitUsed(0, 1);
        assertThat(rig.device.receivedBytes()).asString(StandardCharsets.US_ASCII).isEqualTo("abc");
    }

    @Test
    @DisplayName("HD-32: a full ring the driver never recycles keeps memory bounded and raises no error")
    void fullRingNeverRecycled() {
        live(Rig.VERSION_1, 8);
        rig.device.hold = true;
        DriverRing tx = rig.ring(1);
        long buf = rig.buffer(ascii("x"));
        for (int i = 0; i < 8; i++) {
            tx.post(Buffer.readable(buf, 1));
        }
        for (int i = 0; i < 1000; i++) {
            kick(1);
        }
        Await.until(() -> rig.device.chainsSeen.get() == 8, "8 chains");
        Await.settle();
        assertThat(rig.device.queueInfo(1).inFlight()).isEqualTo(8);
        assertThat(rig.device.chainsSeen.get()).isEqualTo(8);
        assertThat(rig.device.status() & DeviceStatus.DEVICE_NEEDS_RESET).isZero();
    }

    @Test
    @DisplayName("HD-33: a buffer on the queue's own rings is a bad address")
    void bufferOnTheRings() {
        live(Rig.VERSION_1, 8);
        DriverRing rx = rig.ring(0);
        rx.post(Buffer.writable(rx.used, 8));
        kick(0);
        assertNeedsResetAndRecovery(rx, 0);
        rig.close();
        live(Rig.VERSION_1, 8);
        DriverRing tx = rig.ring(1);
        tx.post(Buffer.readable(tx.desc, 16));
        kick(1);
        assertNeedsResetAndRecovery(tx, 0);
    }

    @Test
    @DisplayName("SPLIT-49/NOTIF-03/NOTIF-07: spurious and repeated notifications are harmless; one notification covers many buffers")
    void spuriousNotifications() {
        live(Rig.VERSION_1, 8);
        DriverRing tx = rig.ring(1);
        for (int i = 0; i < 10; i++) {
            kick(1);
        }
        Await.settle();
        assertThat(tx.usedIdx()).isZero();
        long buf = rig.buffer(ascii("abc"));
        tx.post(Buffer.readable(buf, 1));
        tx.post(Buffer.readable(buf + 1, 1));
        tx.post(Buffer.readable(buf + 2, 1));
        kick(1);
        rig.awaitUsed(1, 3);
        kick(1);
        kick(1);
        Await.settle();
        assertThat(tx.usedIdx()).isEqualTo(3);
        assertThat(rig.device.status() & DeviceStatus.DEVICE_NEEDS_RESET).isZero();
    }

    @Test
    @DisplayName("NOTIF-10: a notification for a queue that does not exist is ignored and counted")
    void notificationForMissingQueue() {
        live(Rig.VERSION_1, 8);
        kick(0xFFFF);
        kick(2);
        kick(-1);
        assertThat(rig.device.statistics().ignoredNotifications()).isEqualTo(3);
        assertThat(rig.device.status()).isEqualTo(0x0F);
    }
}
