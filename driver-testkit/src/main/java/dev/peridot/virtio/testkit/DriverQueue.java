package dev.peridot.virtio.testkit;

import static dev.peridot.virtio.queue.SplitRing.DESC_F_INDIRECT;
import static dev.peridot.virtio.queue.SplitRing.DESC_F_NEXT;
import static dev.peridot.virtio.queue.SplitRing.DESC_F_WRITE;

import dev.peridot.virtio.memory.GuestMemory;
import dev.peridot.virtio.memory.GuestMemoryException;
import dev.peridot.virtio.queue.SplitRing;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.List;

/**
 * The driver side of one split virtqueue (spec 2.7) in guest RAM: adds buffers and chains the
 * way Linux's virtio_ring does (a free list of descriptors, ring entries, then the index with
 * release order), decides when to notify the device (VIRTIO_F_EVENT_IDX or used.flags), and
 * harvests used buffers with the bytes the device wrote.
 *
 * <p>The raw methods ({@link #writeDescriptor}, {@link #setAvailIdx}, ...) bypass all of this so
 * that hostile-driver tests can build broken rings on purpose.
 *
 * <p>Not thread-safe: one test thread drives a queue.
 */
public final class DriverQueue {

    /** A used buffer: its head descriptor, the length the device reported, and the bytes it wrote (up to that length). */
    public record Completion(int head, int length, byte[] data) {
    }

    /** A used ring entry as the device wrote it. */
    public record UsedEntry(int id, int length) {
    }

    /** A buffer of a chain whose memory the caller manages: where, how long, device-writable or not. */
    public record Segment(long address, int length, boolean writable) {
        public static Segment readable(long address, int length) {
            return new Segment(address, length, false);
        }

        public static Segment writable(long address, int length) {
            return new Segment(address, length, true);
        }
    }

    /** What the driver remembers about a chain in flight. */
    private record InFlight(int descriptors, List<Segment> segments, List<Long> ownedBuffers, long indirectTable) {
    }

    private final VirtioMmioDriver driver;
    private final GuestMemory memory;
    private final GuestRamAllocator ram;
    private final int index;
    private final int size;
    private final long desc;
    private final long avail;
    private final long used;
    private final long ringBlock;
    private final boolean eventIdx;
    private final int[] nextFree;
    private final InFlight[] inFlight;
    private int freeHead;
    private int numFree;
    private int availIdx;
    private int kickedAt;
    private int lastUsed;
    private boolean released;

    DriverQueue(VirtioMmioDriver driver, GuestMemory memory, GuestRamAllocator ram, int index, int size, long desc,
                long avail, long used, long ringBlock, boolean eventIdx) {
        this.driver = driver;
        this.memory = memory;
        this.ram = ram;
        this.index = index;
        this.size = size;
        this.desc = desc;
        this.avail = avail;
        this.used = used;
        this.ringBlock = ringBlock;
        this.eventIdx = eventIdx;
        this.nextFree = new int[size];
        for (int i = 0; i < size; i++) {
            nextFree[i] = (i + 1) % size;
        }
        this.inFlight = new InFlight[size];
        this.freeHead = 0;
        this.numFree = size;
    }

    /** The queue index. */
    public int index() {
        return index;
    }

    /** The queue size. */
    public int size() {
        return size;
    }

    /** Guest address of the descriptor table. */
    public long descriptorArea() {
        return desc;
    }

    /** Guest address of the available ring. */
    public long driverArea() {
        return avail;
    }

    /** Guest address of the used ring. */
    public long deviceArea() {
        return used;
    }

    /** Chains added and not yet harvested. */
    public int inFlight() {
        return size - numFree;
    }

    // ------------------------------------------------------------------ adding buffers

    /**
     * Adds a chain: one device-readable descriptor per {@code outbound} array, then one
     * device-writable descriptor per {@code inboundLengths} entry, each in its own guest buffer.
     * Returns the head descriptor.
     */
    public int add(List<byte[]> outbound, int... inboundLengths) {
        List<Segment> segments = new ArrayList<>();
        List<Long> owned = new ArrayList<>();
        allocateBuffers(outbound, inboundLengths, segments, owned);
        return addChain(segments, owned, 0);
    }

    /** Allocates one guest buffer per outbound array (filled) and per inbound length. */
    private void allocateBuffers(List<byte[]> outbound, int[] inboundLengths, List<Segment> segments, List<Long> owned) {
        for (byte[] data : outbound) {
            long address = ram.allocate(Math.max(1, data.length), 8);
            owned.add(address);
            write(address, data);
            segments.add(Segment.readable(address, data.length));
        }
        for (int length : inboundLengths) {
            long address = ram.allocate(Math.max(1, length), 8);
            owned.add(address);
            segments.add(Segment.writable(address, length));
        }
    }

    /** Adds a chain of one readable buffer holding {@code data}. */
    public int addOutbound(byte[] data) {
        return add(List.of(data));
    }

    /** Adds a chain of one writable buffer of {@code length} bytes. */
    public int addInbound(int length) {
        return add(List.of(), length);
    }

    /** Adds a chain of caller-managed segments (not freed at harvest). */
    public int addSegments(Segment... segments) {
        return addChain(List.of(segments), List.of(), 0);
    }

    /**
     * Adds the same buffers as {@link #add} through one indirect descriptor (spec 2.7.5.3): the
     * ring uses a single descriptor whatever the chain's length.
     */
    public int addIndirect(List<byte[]> outbound, int... inboundLengths) {
        List<Segment> segments = new ArrayList<>();
        List<Long> owned = new ArrayList<>();
        allocateBuffers(outbound, inboundLengths, segments, owned);
        long table = ram.allocate((long) SplitRing.DESCRIPTOR_SIZE * segments.size(), 16);
        for (int i = 0; i < segments.size(); i++) {
            Segment s = segments.get(i);
            boolean last = i == segments.size() - 1;
            writeDescriptorAt(table + (long) i * SplitRing.DESCRIPTOR_SIZE, s.address(), s.length(),
                    (s.writable() ? DESC_F_WRITE : 0) | (last ? 0 : DESC_F_NEXT), last ? 0 : i + 1);
        }
        int head = takeDescriptors(1);
        writeDescriptor(head, table, SplitRing.DESCRIPTOR_SIZE * segments.size(), DESC_F_INDIRECT, 0);
        inFlight[head] = new InFlight(1, segments, owned, table);
        publish(head);
        return head;
    }

    private int addChain(List<Segment> segments, List<Long> owned, long indirectTable) {
        if (segments.isEmpty()) {
            throw new IllegalArgumentException("a chain needs at least one buffer");
        }
        int head = takeDescriptors(segments.size());
        int d = head;
        for (int i = 0; i < segments.size(); i++) {
            Segment s = segments.get(i);
            boolean last = i == segments.size() - 1;
            int next = last ? 0 : nextFree[d];
            writeDescriptor(d, s.address(), s.length(), (s.writable() ? DESC_F_WRITE : 0) | (last ? 0 : DESC_F_NEXT),
                    next);
            d = next;
        }
        inFlight[head] = new InFlight(segments.size(), segments, owned, indirectTable);
        publish(head);
        return head;
    }

    /** Takes {@code count} descriptors from the free list; returns the first. They stay linked through nextFree. */
    private int takeDescriptors(int count) {
        if (count > numFree) {
            throw new DriverException("queue " + index + " is full: " + count + " descriptors wanted, " + numFree + " free");
        }
        int head = freeHead;
        int d = head;
        for (int i = 0; i < count; i++) {
            if (i == count - 1) {
                freeHead = nextFree[d];
            } else {
                d = nextFree[d];
            }
        }
        numFree -= count;
        return head;
    }

    /** Makes {@code head} available: ring entry first, then the index with release order (spec 2.7.13). */
    private void publish(int head) {
        write16(avail + SplitRing.availEntryOffset(availIdx % size), head);
        VarHandle.releaseFence();
        availIdx = (availIdx + 1) & 0xFFFF;
        write16(avail + SplitRing.RING_IDX, availIdx);
    }

    // ------------------------------------------------------------------ notifying the device

    /**
     * Notifies the device if it asked for it (spec 2.7.10: avail_event with EVENT_IDX, else
     * used.flags), as Linux's virtqueue_kick_prepare does. Returns whether it notified.
     */
    public boolean kick() {
        VarHandle.fullFence();
        boolean needed;
        if (eventIdx) {
            needed = SplitRing.needEvent(read16(used + SplitRing.availEventOffset(size)), availIdx, kickedAt);
        } else {
            needed = (read16(used + SplitRing.RING_FLAGS) & SplitRing.USED_F_NO_NOTIFY) == 0;
        }
        kickedAt = availIdx;
        if (needed) {
            notifyDevice();
        }
        return needed;
    }

    /** Writes QueueNotify for this queue, whatever the device asked. */
    public void notifyDevice() {
        driver.notifyQueue(index);
    }

    // ------------------------------------------------------------------ harvesting

    /**
     * Takes every used buffer the device has published since the last harvest, frees their
     * descriptors and buffers, and returns them with the bytes the device wrote. With EVENT_IDX it
     * then asks for an interrupt at the next used buffer (used_event).
     *
     * @throws DriverException if the device reported an id that is not in flight or a length
     *                         larger than the writable part (a device bug)
     */
    public List<Completion> harvest() {
        List<Completion> done = new ArrayList<>();
        int usedIdx = read16(used + SplitRing.RING_IDX);
        VarHandle.acquireFence();
        while (lastUsed != usedIdx) {
            long entry = used + SplitRing.usedEntryOffset(lastUsed % size);
            int id = read32(entry);
            int length = read32(entry + 4);
            if (id < 0 || id >= size || inFlight[id] == null) {
                throw new DriverException("device used id " + id + ", which is not in flight on queue " + index);
            }
            InFlight chain = inFlight[id];
            done.add(new Completion(id, length, readWritten(chain.segments(), length)));
            release(id, chain);
            lastUsed = (lastUsed + 1) & 0xFFFF;
        }
        if (eventIdx) {
            write16(avail + SplitRing.usedEventOffset(size), lastUsed);
            VarHandle.fullFence();
        }
        return done;
    }

    private byte[] readWritten(List<Segment> segments, int length) {
        long writable = 0;
        for (Segment s : segments) {
            if (s.writable()) {
                writable += s.length() & 0xFFFF_FFFFL;
            }
        }
        if ((length & 0xFFFF_FFFFL) > writable) {
            throw new DriverException("device reported " + (length & 0xFFFF_FFFFL) + " bytes written into "
                    + writable + " writable bytes on queue " + index);
        }
        byte[] data = new byte[length];
        int done = 0;
        for (Segment s : segments) {
            if (!s.writable() || done == length) {
                continue;
            }
            int n = Math.min(s.length(), length - done);
            try {
                memory.read(s.address(), data, done, n);
            } catch (GuestMemoryException e) {
                throw new DriverException("cannot read a used buffer: " + e.getMessage());
            }
            done += n;
        }
        return data;
    }

    private void release(int head, InFlight chain) {
        inFlight[head] = null;
        // The chain's descriptors go back to the front of the free list, as Linux's detach_buf does.
        int last = head;
        for (int i = 1; i < chain.descriptors(); i++) {
            last = nextFree[last];
        }
        nextFree[last] = freeHead;
        freeHead = head;
        numFree += chain.descriptors();
        for (long address : chain.ownedBuffers()) {
            ram.free(address);
        }
        if (chain.indirectTable() != 0) {
            ram.free(chain.indirectTable());
        }
    }

    /**
     * Takes back every chain still in flight and moves avail.idx back by as many entries, as
     * Linux's virtqueue_detach_unused_buf does (virtio_console calls it on a live queue when a
     * port is unplugged). Only correct if the device has not popped any of them: call
     * {@link #harvest()} first. Returns the number of chains taken back.
     */
    public int detachUnused() {
        int detached = 0;
        for (int head = 0; head < size; head++) {
            InFlight chain = inFlight[head];
            if (chain != null) {
                release(head, chain);
                availIdx = (availIdx - 1) & 0xFFFF;
                write16(avail + SplitRing.RING_IDX, availIdx);
                kickedAt = availIdx;
                detached++;
            }
        }
        return detached;
    }

    /** Frees the ring and every buffer still in flight (after the device let go of the queue). */
    void releaseAll() {
        if (released) {
            return;
        }
        released = true;
        for (int head = 0; head < size; head++) {
            InFlight chain = inFlight[head];
            if (chain != null) {
                inFlight[head] = null;
                for (long address : chain.ownedBuffers()) {
                    ram.free(address);
                }
                if (chain.indirectTable() != 0) {
                    ram.free(chain.indirectTable());
                }
            }
        }
        if (ringBlock != 0) {
            ram.free(ringBlock);
        }
    }

    // ------------------------------------------------------------------ suppression and raw access

    /** avail.flags: 1 asks the device not to interrupt (without EVENT_IDX, spec 2.7.7). */
    public void setAvailFlags(int flags) {
        write16(avail + SplitRing.RING_FLAGS, flags);
    }

    /** used_event (with EVENT_IDX): interrupt when the used index passes this value. */
    public void setUsedEvent(int value) {
        write16(avail + SplitRing.usedEventOffset(size), value);
    }

    /** avail_event as the device last wrote it. */
    public int availEvent() {
        return read16(used + SplitRing.availEventOffset(size));
    }

    /** used.flags as the device wrote it. */
    public int usedFlags() {
        return read16(used + SplitRing.RING_FLAGS);
    }

    /** used.idx as the device last published it. */
    public int usedIdx() {
        return read16(used + SplitRing.RING_IDX);
    }

    /** The driver's avail.idx. */
    public int availIdx() {
        return availIdx;
    }

    /** Used ring entry {@code i} (modulo the size), as the device wrote it. */
    public UsedEntry usedEntry(int i) {
        long entry = used + SplitRing.usedEntryOffset(i % size);
        return new UsedEntry(read32(entry), read32(entry + 4));
    }

    /** Raw: writes descriptor {@code i} of the table. */
    public void writeDescriptor(int i, long address, int length, int flags, int next) {
        writeDescriptorAt(desc + (long) i * SplitRing.DESCRIPTOR_SIZE, address, length, flags, next);
    }

    /** Raw: writes a descriptor anywhere (an indirect table, for example). */
    public void writeDescriptorAt(long at, long address, int length, int flags, int next) {
        try {
            memory.writeLong(at, address);
            memory.writeInt(at + 8, length);
            memory.writeShort(at + 12, (short) flags);
            memory.writeShort(at + 14, (short) next);
        } catch (GuestMemoryException e) {
            throw new DriverException("cannot write a descriptor: " + e.getMessage());
        }
    }

    /** Raw: writes available ring entry {@code slot}. */
    public void setAvailEntry(int slot, int head) {
        write16(avail + SplitRing.availEntryOffset(slot % size), head);
    }

    /** Raw: sets avail.idx (and the driver's own idea of it). */
    public void setAvailIdx(int idx) {
        VarHandle.releaseFence();
        availIdx = idx & 0xFFFF;
        write16(avail + SplitRing.RING_IDX, availIdx);
    }

    /** Raw: puts {@code head} into the next ring entry and advances avail.idx, without any bookkeeping. */
    public void publishRaw(int head) {
        publish(head);
    }

    private void write(long address, byte[] data) {
        try {
            memory.write(address, data, 0, data.length);
        } catch (GuestMemoryException e) {
            throw new DriverException("cannot write a buffer: " + e.getMessage());
        }
    }

    private void write16(long address, int value) {
        try {
            memory.writeShort(address, (short) value);
        } catch (GuestMemoryException e) {
            throw new DriverException("cannot write the ring: " + e.getMessage());
        }
    }

    private int read16(long address) {
        try {
            return memory.readShort(address) & 0xFFFF;
        } catch (GuestMemoryException e) {
            throw new DriverException("cannot read the ring: " + e.getMessage());
        }
    }

    private int read32(long address) {
        try {
            return memory.readInt(address);
        } catch (GuestMemoryException e) {
            throw new DriverException("cannot read the ring: " + e.getMessage());
        }
    }

    @Override
    public String toString() {
        return String.format("DriverQueue[%d, size %d, avail %d, used %d, in flight %d]", index, size, availIdx,
                lastUsed, inFlight());
    }
}
