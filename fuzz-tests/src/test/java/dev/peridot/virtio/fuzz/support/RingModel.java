package dev.peridot.virtio.fuzz.support;

import dev.peridot.virtio.queue.SplitRing;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * An independent model of what the device side of a split virtqueue does with a ring (spec
 * 2.7, and the validation rules documented on {@code SplitVirtqueue}), run over a copy of guest
 * RAM together with {@link FuzzDevice}'s loopback and hold behaviour. The ring target predicts
 * every byte the device writes, whether it enters DEVICE_NEEDS_RESET and whether it sends a used
 * buffer notification, and compares the prediction with what the real device did.
 *
 * <p>The rules, in the order the device applies them: avail idx at most queue size ahead (HD-27);
 * head below the size and not in flight (HD-28); at most queue-size descriptors per chain
 * (HD-20/21); next below the size (HD-22); buffers inside RAM and off the queue's rings
 * (HD-23/33); total length below 2^32 (HD-24); no readable buffer after a writable one; indirect
 * tables only with the feature, not nested, not with NEXT, non-zero multiple of 16, at most
 * max(size, 1024) entries, inside RAM and off the rings (HD-26). Zero-length descriptors are
 * skipped wherever they point. The first violation stops the queue; used entries of the same
 * pass are written but never published.
 */
public final class RingModel {

    /** A validated chain: its head and the segments the device copied. */
    public record Chain(int head, List<long[]> segments, long readable, long writable) {
    }

    /** What the model saw over a fuzzing run (printed at exit when fuzzing): is the search reaching deep states? */
    private static final java.util.concurrent.ConcurrentHashMap<String, java.util.concurrent.atomic.LongAdder> STATS =
            new java.util.concurrent.ConcurrentHashMap<>();

    static {
        if (System.getenv("JAZZER_FUZZ") != null) {
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                StringBuilder sb = new StringBuilder();
                new java.util.TreeMap<>(STATS).forEach((k, v) -> sb.append(v).append('\t').append(k).append('\n'));
                try {
                    java.nio.file.Files.writeString(java.nio.file.Path.of("target", "ring-model-outcomes.txt"), sb);
                } catch (java.io.IOException e) {
                    System.err.print(sb);
                }
            }));
        }
    }

    private static void count(String what) {
        STATS.computeIfAbsent(what, k -> new java.util.concurrent.atomic.LongAdder()).increment();
    }

    private final long base;
    private final int size;
    private final int mask;
    private final long desc;
    private final long avail;
    private final long used;
    private final boolean eventIdx;
    private final boolean indirect;
    private final int maxIndirect;

    private byte[] mem;
    private int nextAvail;
    private int shadowAvail;
    private int usedIdx;
    private int publishedUsed;
    private boolean broken;
    private String fault;
    private boolean notified;
    private final Chain[] inFlight;
    private final ArrayDeque<Chain> held = new ArrayDeque<>();

    public RingModel(long ramBase, int size, long desc, long avail, long used, boolean eventIdx, boolean indirect) {
        this.base = ramBase;
        this.size = size;
        this.mask = size - 1;
        this.desc = desc;
        this.avail = avail;
        this.used = used;
        this.eventIdx = eventIdx;
        this.indirect = indirect;
        this.maxIndirect = Math.max(size, 1024);
        this.inFlight = new Chain[size];
    }

    /** Starts a prediction from the current RAM contents (a copy the model may write). */
    public void load(byte[] ram) {
        this.mem = ram;
        this.notified = false;
    }

    /** The predicted RAM. */
    public byte[] memory() {
        return mem;
    }

    public boolean broken() {
        return broken;
    }

    public String fault() {
        return fault;
    }

    /** Whether the steps since {@link #load} sent a used buffer notification. */
    public boolean notified() {
        return notified;
    }

    public int heldCount() {
        return held.size();
    }

    /** A kick of the loopback queue: every available chain is completed, then published. */
    public void processLoopback() {
        Chain c;
        while ((c = pop()) != null) {
            complete(c);
        }
        flush();
    }

    /** A kick of the hold queue: every available chain is kept. */
    public void processHold() {
        Chain c;
        while ((c = pop()) != null) {
            held.add(c);
        }
    }

    /** The host releases up to {@code count} held chains (nothing once the device needs a reset). */
    public void release(int count) {
        if (broken) {
            return;
        }
        for (int i = 0; i < count && !held.isEmpty(); i++) {
            complete(held.poll());
        }
        flush();
    }

    // ---------------------------------------------------------------- the device's steps

    private Chain pop() {
        if (broken) {
            return null;
        }
        if (nextAvail == shadowAvail && !refresh()) {
            return null;
        }
        int head = u16(avail + SplitRing.availEntryOffset(nextAvail & mask));
        if (head >= size) {
            return fail("avail entry names " + head);
        }
        if (inFlight[head] != null) {
            return fail("head " + head + " again while in flight");
        }
        List<long[]> segments = new ArrayList<>();
        long[] lengths = new long[2]; // readable, writable
        if (!walk(head, segments, lengths)) {
            return null;
        }
        nextAvail = (nextAvail + 1) & 0xFFFF;
        Chain c = new Chain(head, segments, lengths[0], lengths[1]);
        inFlight[head] = c;
        return c;
    }

    private boolean refresh() {
        int idx = u16(avail + SplitRing.RING_IDX);
        if (idx == nextAvail) {
            if (eventIdx) {
                put16(used + SplitRing.availEventOffset(size), nextAvail);
            }
            return false;
        }
        int pending = (idx - nextAvail) & 0xFFFF;
        if (pending > size) {
            fail("avail idx " + idx + " is " + pending + " ahead");
            return false;
        }
        shadowAvail = idx;
        return true;
    }

    private boolean walk(int head, List<long[]> segments, long[] lengths) {
        int idx = head;
        int walked = 0;
        while (true) {
            if (++walked > size) {
                return failed("chain longer than the queue");
            }
            long d = desc + (long) idx * SplitRing.DESCRIPTOR_SIZE;
            long address = u64(d);
            long length = u32(d + 8);
            int flags = u16(d + 12);
            int next = u16(d + 14);
            if ((flags & SplitRing.DESC_F_INDIRECT) != 0) {
                if (!indirect) {
                    return failed("INDIRECT without the feature");
                }
                if ((flags & SplitRing.DESC_F_NEXT) != 0) {
                    return failed("INDIRECT with NEXT");
                }
                return walkIndirect(address, length, segments, lengths);
            }
            if (!add(address, length, (flags & SplitRing.DESC_F_WRITE) != 0, segments, lengths)) {
                return false;
            }
            if ((flags & SplitRing.DESC_F_NEXT) == 0) {
                return true;
            }
            if (next >= size) {
                return failed("next " + next + " beyond the size");
            }
            idx = next;
        }
    }

    private boolean walkIndirect(long table, long length, List<long[]> segments, long[] lengths) {
        if (length == 0 || length % SplitRing.DESCRIPTOR_SIZE != 0) {
            return failed("indirect table length " + length);
        }
        long entries = length / SplitRing.DESCRIPTOR_SIZE;
        if (entries > maxIndirect) {
            return failed("indirect table of " + entries + " entries");
        }
        if (!valid(table, length) || touchesRings(table, length)) {
            return failed("indirect table outside RAM or on a ring");
        }
        int i = 0;
        int walked = 0;
        while (true) {
            if (++walked > entries) {
                return failed("indirect loop");
            }
            long e = table + (long) i * SplitRing.DESCRIPTOR_SIZE;
            long address = u64(e);
            long len = u32(e + 8);
            int flags = u16(e + 12);
            int next = u16(e + 14);
            if ((flags & SplitRing.DESC_F_INDIRECT) != 0) {
                return failed("nested indirect");
            }
            if (!add(address, len, (flags & SplitRing.DESC_F_WRITE) != 0, segments, lengths)) {
                return false;
            }
            if ((flags & SplitRing.DESC_F_NEXT) == 0) {
                return true;
            }
            if (next >= entries) {
                return failed("indirect next " + next + " beyond the table");
            }
            i = next;
        }
    }

    private boolean add(long address, long length, boolean writable, List<long[]> segments, long[] lengths) {
        if (length == 0) {
            return true;
        }
        if (lengths[0] + lengths[1] + length > 0xFFFF_FFFFL) {
            return failed("chain longer than 2^32");
        }
        if (!valid(address, length)) {
            return failed(String.format("buffer 0x%x+%d outside RAM", address, length));
        }
        if (touchesRings(address, length)) {
            return failed("buffer on a ring");
        }
        if (!writable && lengths[1] > 0) {
            return failed("readable after writable");
        }
        segments.add(new long[] {address, length, writable ? 1 : 0});
        lengths[writable ? 1 : 0] += length;
        return true;
    }

    private boolean valid(long address, long length) {
        long end = base + mem.length;
        return address >= base && address < end && length <= end - address;
    }

    private boolean touchesRings(long address, long length) {
        long end = address + length;
        return overlaps(address, end, desc, desc + SplitRing.descriptorTableBytes(size))
                || overlaps(address, end, avail, avail + SplitRing.availRingBytes(size))
                || overlaps(address, end, used, used + SplitRing.usedRingBytes(size));
    }

    private static boolean overlaps(long a, long aEnd, long b, long bEnd) {
        return a < bEnd && b < aEnd;
    }

    /** FuzzDevice.complete: sum of up to 4096 readable bytes, fill up to 4096 writable bytes, a used entry. */
    private void complete(Chain c) {
        int n = (int) Math.min(c.readable(), FuzzDevice.MAX_TRANSFER);
        int sum = 0;
        int done = 0;
        for (long[] s : c.segments()) {
            if (s[2] != 0 || done >= n) {
                continue;
            }
            int k = (int) Math.min(s[1], n - done);
            for (int i = 0; i < k; i++) {
                sum += mem[(int) (s[0] - base) + i] & 0xFF;
            }
            done += k;
        }
        int w = (int) Math.min(c.writable(), FuzzDevice.MAX_TRANSFER);
        done = 0;
        for (long[] s : c.segments()) {
            if (s[2] == 0 || done >= w) {
                continue;
            }
            int k = (int) Math.min(s[1], w - done);
            for (int i = 0; i < k; i++) {
                mem[(int) (s[0] - base) + i] = FuzzDevice.fill(sum, done + i);
            }
            done += k;
        }
        count(c.segments().size() > 2 ? "completed chain of 3+ segments" : "completed chain of " + c.segments().size()
                + " segment(s)");
        long entry = used + SplitRing.usedEntryOffset(usedIdx & mask);
        put32(entry, c.head());
        put32(entry + 4, w);
        usedIdx = (usedIdx + 1) & 0xFFFF;
        inFlight[c.head()] = null;
    }

    private void flush() {
        if (usedIdx == publishedUsed || broken) {
            return;
        }
        int old = publishedUsed;
        put16(used + SplitRing.RING_IDX, usedIdx);
        publishedUsed = usedIdx;
        boolean notify;
        if (eventIdx) {
            notify = SplitRing.needEvent(u16(avail + SplitRing.usedEventOffset(size)), usedIdx, old);
        } else {
            notify = (u16(avail + SplitRing.RING_FLAGS) & SplitRing.AVAIL_F_NO_INTERRUPT) == 0;
        }
        notified |= notify;
        count(notify ? "published, notified" : "published, suppressed");
    }

    private Chain fail(String why) {
        failed(why);
        return null;
    }

    private boolean failed(String why) {
        if (!broken) {
            broken = true;
            fault = why;
            count("fault: " + why.replaceAll("0x[0-9a-fA-F]+|[0-9]+", "N"));
        }
        return false;
    }

    // ---------------------------------------------------------------- little-endian RAM access

    private int at(long gpa) {
        return (int) (gpa - base);
    }

    private int u16(long gpa) {
        int i = at(gpa);
        return (mem[i] & 0xFF) | (mem[i + 1] & 0xFF) << 8;
    }

    private long u32(long gpa) {
        int i = at(gpa);
        return ((mem[i] & 0xFF) | (mem[i + 1] & 0xFF) << 8 | (mem[i + 2] & 0xFF) << 16 | (long) (mem[i + 3] & 0xFF) << 24)
                & 0xFFFF_FFFFL;
    }

    private long u64(long gpa) {
        return u32(gpa) | u32(gpa + 4) << 32;
    }

    private void put16(long gpa, int v) {
        int i = at(gpa);
        mem[i] = (byte) v;
        mem[i + 1] = (byte) (v >>> 8);
    }

    private void put32(long gpa, long v) {
        put16(gpa, (int) v);
        put16(gpa + 2, (int) (v >>> 16));
    }
}
