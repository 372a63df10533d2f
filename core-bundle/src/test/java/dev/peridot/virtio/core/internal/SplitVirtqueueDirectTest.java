package dev.peridot.virtio.core.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.peridot.virtio.memory.SegmentGuestMemory;
import dev.peridot.virtio.queue.DescriptorChain;
import dev.peridot.virtio.queue.QueueLayout;
import dev.peridot.virtio.queue.SplitRing;
import dev.peridot.virtio.testing.DriverRing;
import dev.peridot.virtio.testing.DriverRing.Buffer;
import dev.peridot.virtio.testing.RecordingTransport;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The split queue driven directly, without a worker, for the rules that need precise control of timing. */
class SplitVirtqueueDirectTest {

    private static final long BASE = 0x10000;
    private final SegmentGuestMemory memory = SegmentGuestMemory.allocate(BASE, 1 << 20);
    private final RecordingTransport transport = new RecordingTransport(memory);
    private final List<String> faults = new ArrayList<>();
    private final DriverRing ring = DriverRing.at(memory, 8, BASE);
    private long next = BASE + 0x4000;

    @AfterEach
    void close() {
        memory.close();
    }

    private SplitVirtqueue queue(boolean eventIdx, boolean indirect) {
        QueueSlot slot = new QueueSlot(1, 8);
        String[] problem = new String[1];
        SplitVirtqueue q = SplitVirtqueue.create(slot, new QueueLayout(8, ring.desc, ring.avail, ring.used), memory,
                eventIdx, indirect, transport, (i, p) -> faults.add(p), 1, -1, problem);
        assertThat(q).as(problem[0]).isNotNull();
        return q;
    }

    private long buffer(String content) {
        long a = next;
        byte[] b = content.getBytes(StandardCharsets.US_ASCII);
        try {
            memory.write(a, b, 0, b.length);
        } catch (dev.peridot.virtio.memory.GuestMemoryException e) {
            throw new AssertionError(e);
        }
        next += 64;
        return a;
    }

    @Test
    @DisplayName("HD-30/CLEAN-02: descriptors are read once; a rewrite after the pop does not change the chain")
    void descriptorsAreReadOnce() {
        SplitVirtqueue q = queue(false, false);
        long good = buffer("good");
        long evil = buffer("evil");
        int head = ring.post(Buffer.readable(good, 4));
        DescriptorChain chain = q.pop();
        ring.writeDescriptor(head, evil, 4, 0, 0);
        ring.writeDescriptor(head, 0xFFFF_FFFF_0000L, 0x7FFF_FFFF, 0, 0);
        byte[] out = new byte[4];
        assertThat(chain.read(0, out, 0, 4)).isEqualTo(4);
        assertThat(new String(out, StandardCharsets.US_ASCII)).isEqualTo("good");
        assertThat(chain.segmentAddress(0)).isEqualTo(good);
        assertThat(faults).isEmpty();
    }

    @Test
    @DisplayName("rereadAvailIndex: after the driver took back entries the device never popped (avail.idx moved back) and posted new ones, the device pops only the new ones")
    void availIndexMovedBackOverUnpoppedEntries() {
        SplitVirtqueue q = queue(false, false);
        ring.post(Buffer.readable(buffer("one"), 3));
        int stale1 = ring.post(Buffer.readable(buffer("two"), 3));
        ring.post(Buffer.readable(buffer("three"), 5));
        assertThat(q.hasAvailable()).isTrue(); // the device has now read avail.idx = 3
        DescriptorChain first = q.pop();
        assertThat(q.push(first, 0)).isTrue();
        ring.setAvailIdx(1); // the driver takes "two" and "three" back (Linux: virtqueue_detach_unused_buf)
        ring.setAvailEntry(1, 5);
        ring.writeDescriptor(5, buffer("fresh"), 5, 0, 0);
        ring.setAvailIdx(2);
        q.rereadAvailIndex();
        DescriptorChain fresh = q.pop();
        assertThat(fresh.head()).isEqualTo(5).isNotEqualTo(stale1);
        assertThat(q.pop()).as("nothing beyond the new avail.idx").isNull();
        assertThat(faults).isEmpty();
    }

    @Test
    @DisplayName("chain copies: offsets across segments, short copies at the end, ByteBuffers heap and direct")
    void chainCopies() {
        SplitVirtqueue q = queue(false, false);
        long a = buffer("abc");
        long b = buffer("defgh");
        long w1 = next;
        next += 64;
        long w2 = next;
        next += 64;
        ring.post(Buffer.readable(a, 3), Buffer.readable(b, 5), Buffer.writable(w1, 2), Buffer.writable(w2, 4));
        DescriptorChain chain = q.pop();
        assertThat(chain.readableLength()).isEqualTo(8);
        assertThat(chain.writableLength()).isEqualTo(6);
        assertThat(chain.segmentCount()).isEqualTo(4);
        assertThat(chain.readableSegmentCount()).isEqualTo(2);
        byte[] out = new byte[10];
        assertThat(chain.read(2, out, 0, 10)).isEqualTo(6);
        assertThat(new String(out, 0, 6, StandardCharsets.US_ASCII)).isEqualTo("cdefgh");
        ByteBuffer direct = ByteBuffer.allocateDirect(3);
        assertThat(chain.read(1, direct)).isEqualTo(3);
        assertThat(direct.position()).isEqualTo(3);
        assertThat(chain.write(1, "WXYZ!".getBytes(StandardCharsets.US_ASCII), 0, 5)).isEqualTo(5);
        ByteBuffer heap = ByteBuffer.wrap("Q".getBytes(StandardCharsets.US_ASCII));
        assertThat(chain.write(0, heap)).isEqualTo(1);
        byte[] w = new byte[6];
        try {
            memory.read(w1, w, 0, 2);
            memory.read(w2, w, 2, 4);
        } catch (dev.peridot.virtio.memory.GuestMemoryException e) {
            throw new AssertionError(e);
        }
        assertThat(new String(w, StandardCharsets.US_ASCII)).isEqualTo("QWXYZ!");
        assertThat(chain.write(6, new byte[4], 0, 4)).as("past the writable part").isZero();
    }

    @Test
    @DisplayName("push batched: entries appear only at flush, one notification for the batch")
    void batchedPush() {
        SplitVirtqueue q = queue(false, false);
        long buf = buffer("abc");
        for (int i = 0; i < 3; i++) {
            ring.post(Buffer.readable(buf + i, 1));
        }
        DescriptorChain c1 = q.pop();
        DescriptorChain c2 = q.pop();
        DescriptorChain c3 = q.pop();
        assertThat(q.pop()).isNull();
        assertThat(q.inFlight()).isEqualTo(3);
        q.addUsed(c1, 0);
        q.addUsed(c2, 0);
        q.addUsed(c3, 0);
        assertThat(ring.usedIdx()).isZero();
        q.flushUsed();
        assertThat(ring.usedIdx()).isEqualTo(3);
        assertThat(transport.usedNotifications.get(1)).isEqualTo(1);
        assertThat(q.inFlight()).isZero();
    }

    @Test
    @DisplayName("flushUsed says whether the driver can see the entries: false once the queue halted before publication")
    void flushReportsPublication() {
        SplitVirtqueue q = queue(false, false);
        long buf = buffer("ab");
        ring.post(Buffer.readable(buf, 1));
        ring.post(Buffer.readable(buf + 1, 1));
        assertThat(q.flushUsed()).as("nothing pending").isTrue();
        q.addUsed(q.pop(), 0);
        assertThat(q.flushUsed()).isTrue();
        assertThat(ring.usedIdx()).isEqualTo(1);
        q.addUsed(q.pop(), 0);
        q.halt();
        assertThat(q.flushUsed()).as("halted between add and flush").isFalse();
        assertThat(ring.usedIdx()).isEqualTo(1);
    }

    @Test
    @DisplayName("SPLIT-39: the used length is clamped to the writable length")
    void usedLengthIsClamped() {
        SplitVirtqueue q = queue(false, false);
        ring.post(Buffer.readable(buffer("a"), 1), Buffer.writable(next, 4));
        DescriptorChain c = q.pop();
        q.push(c, 100);
        assertThat(ring.usedEntry(0).length()).isEqualTo(4);
    }

    @Test
    @DisplayName("a chain pushed twice, or after its queue stopped, is ignored")
    void stalePushesAreIgnored() {
        SplitVirtqueue q = queue(false, false);
        ring.post(Buffer.readable(buffer("a"), 1));
        DescriptorChain c = q.pop();
        q.push(c, 0);
        q.push(c, 0);
        assertThat(ring.usedIdx()).isEqualTo(1);
        ring.post(Buffer.readable(buffer("b"), 1));
        DescriptorChain d = q.pop();
        q.halt();
        q.push(d, 0);
        assertThat(ring.usedIdx()).isEqualTo(1);
        assertThat(q.pop()).isNull();
    }

    @Test
    @DisplayName("SPLIT-48/SPLIT-47: with EVENT_IDX the device asks for the next notification through avail_event and keeps used.flags 0")
    void availEventFollowsTheDevice() {
        SplitVirtqueue q = queue(true, false);
        assertThat(ring.availEvent()).isZero();
        long buf = buffer("ab");
        ring.post(Buffer.readable(buf, 1));
        ring.post(Buffer.readable(buf + 1, 1));
        q.push(q.pop(), 0);
        q.push(q.pop(), 0);
        assertThat(q.pop()).isNull();
        assertThat(ring.availEvent()).isEqualTo(2);
        assertThat(ring.usedFlags()).isZero();
        assertThat(SplitRing.needEvent(ring.availEvent(), 3, 2)).as("the driver's next add notifies").isTrue();
    }

    @Test
    @DisplayName("SPLIT-03/HD-04/HD-09: invalid layouts are refused: size, alignment, outside RAM, overlapping areas")
    void invalidLayoutsAreRefused() {
        QueueSlot slot = new QueueSlot(0, 256);
        long d = BASE;
        Object[][] cases = {
                {new QueueLayout(0, d, d + 0x1000, d + 0x2000), "size 0"},
                {new QueueLayout(3, d, d + 0x1000, d + 0x2000), "not a power of 2"},
                {new QueueLayout(512, d, d + 0x2000, d + 0x3000), "beyond the maximum"},
                {new QueueLayout(8, d + 8, d + 0x1000, d + 0x2000), "descriptor table misaligned"},
                {new QueueLayout(8, d, d + 0x1001, d + 0x2000), "avail misaligned"},
                {new QueueLayout(8, d, d + 0x1000, d + 0x2002), "used misaligned"},
                {new QueueLayout(8, d, d + 0x40, d + 0x2000), "avail overlaps descriptors"},
                {new QueueLayout(8, d, d + 0x1000, d + 0x1008), "used overlaps avail"},
                {new QueueLayout(8, 0, d + 0x1000, d + 0x2000), "descriptors outside RAM"},
                {new QueueLayout(8, d, d + 0x1000, BASE + (1 << 20) - 16), "used ring across the end of RAM"},
        };
        for (Object[] c : cases) {
            String[] problem = new String[1];
            assertThat(SplitVirtqueue.create(slot, (QueueLayout) c[0], memory, false, false, transport, (i, p) -> { },
                    1, -1, problem)).as((String) c[1]).isNull();
            assertThat(problem[0]).as((String) c[1]).isNotBlank();
        }
    }

    @Test
    @DisplayName("vhost-user resume: a queue restarted at a ring base continues from it and from used.idx in memory")
    void resumeFromBase() {
        long buf = buffer("abc");
        for (int i = 0; i < 3; i++) {
            ring.post(Buffer.readable(buf + i, 1));
        }
        SplitVirtqueue first = queue(false, false);
        first.push(first.pop(), 0);
        first.push(first.pop(), 0);
        int base = first.nextAvail();
        first.halt();
        String[] problem = new String[1];
        SplitVirtqueue resumed = SplitVirtqueue.create(new QueueSlot(1, 8), new QueueLayout(8, ring.desc, ring.avail,
                ring.used), memory, false, false, transport, (i, p) -> { }, 2, base, problem);
        DescriptorChain third = resumed.pop();
        byte[] out = new byte[1];
        third.read(0, out, 0, 1);
        assertThat((char) out[0]).isEqualTo('c');
        resumed.push(third, 0);
        assertThat(ring.usedIdx()).isEqualTo(3);
        assertThat(ring.usedEntry(2).id()).isEqualTo(2);
    }
}
