package dev.peridot.virtio.entropy;

import dev.peridot.virtio.memory.GuestMemory;
import dev.peridot.virtio.memory.GuestMemoryException;
import dev.peridot.virtio.queue.SplitRing;

/**
 * (A copy of core-bundle's test support.) The driver side of one split queue, for tests: writes descriptors and the available ring the
 * way a driver does, and reads what the device put into the used ring. Raw writers let a test
 * build broken rings on purpose.
 */
public final class DriverRing {

    /** A buffer of a chain: where, how long, and whether the device may write it. */
    public record Buffer(long address, int length, boolean writable) {
        public static Buffer readable(long address, int length) {
            return new Buffer(address, length, false);
        }

        public static Buffer writable(long address, int length) {
            return new Buffer(address, length, true);
        }
    }

    /** One used ring entry. */
    public record Used(int id, int length) {
    }

    public final GuestMemory memory;
    public final int size;
    public final long desc;
    public final long avail;
    public final long used;
    private int nextDescriptor;
    private int availIdx;

    public DriverRing(GuestMemory memory, int size, long desc, long avail, long used) {
        this.memory = memory;
        this.size = size;
        this.desc = desc;
        this.avail = avail;
        this.used = used;
    }

    /** A ring laid out at {@code base}: descriptors, then the available ring, then the used ring on the next 4 KiB boundary. */
    public static DriverRing at(GuestMemory memory, int size, long base) {
        long availAddr = base + SplitRing.descriptorTableBytes(size);
        long usedAddr = (availAddr + SplitRing.availRingBytes(size) + 4095) & ~4095L;
        return new DriverRing(memory, size, base, availAddr, usedAddr);
    }

    /** The bytes this ring occupies from its descriptor table to the end of its used ring. */
    public long footprint() {
        return used + SplitRing.usedRingBytes(size) - desc;
    }

    public void writeDescriptor(int index, long address, int length, int flags, int next) {
        try {
            long d = desc + (long) index * SplitRing.DESCRIPTOR_SIZE;
            memory.writeLong(d, address);
            memory.writeInt(d + 8, length);
            memory.writeShort(d + 12, (short) flags);
            memory.writeShort(d + 14, (short) next);
        } catch (GuestMemoryException e) {
            throw new AssertionError(e);
        }
    }

    /** Writes a chain of descriptors from the next free table index on; returns the head. */
    public int addChain(Buffer... buffers) {
        int head = nextDescriptor % size;
        for (int i = 0; i < buffers.length; i++) {
            int index = (head + i) % size;
            boolean last = i == buffers.length - 1;
            int flags = (buffers[i].writable() ? SplitRing.DESC_F_WRITE : 0) | (last ? 0 : SplitRing.DESC_F_NEXT);
            writeDescriptor(index, buffers[i].address(), buffers[i].length(), flags, last ? 0 : (index + 1) % size);
        }
        nextDescriptor += buffers.length;
        return head;
    }

    /** Writes a chain and makes it available. */
    public int post(Buffer... buffers) {
        int head = addChain(buffers);
        publish(head);
        return head;
    }

    /** Puts {@code head} into the next available ring entry and advances avail.idx. */
    public void publish(int head) {
        setAvailEntry(availIdx % size, head);
        availIdx = (availIdx + 1) & 0xFFFF;
        setAvailIdx(availIdx);
    }

    public void setAvailEntry(int slot, int head) {
        write16(avail + SplitRing.availEntryOffset(slot), head);
    }

    public void setAvailIdx(int idx) {
        availIdx = idx & 0xFFFF;
        write16(avail + SplitRing.RING_IDX, idx);
    }

    public int availIdx() {
        return availIdx;
    }

    public void setAvailFlags(int flags) {
        write16(avail + SplitRing.RING_FLAGS, flags);
    }

    public void setUsedEvent(int value) {
        write16(avail + SplitRing.usedEventOffset(size), value);
    }

    public int usedIdx() {
        return read16(used + SplitRing.RING_IDX);
    }

    public int usedFlags() {
        return read16(used + SplitRing.RING_FLAGS);
    }

    public int availEvent() {
        return read16(used + SplitRing.availEventOffset(size));
    }

    /** Used ring entry at position {@code i} (taken modulo the size). */
    public Used usedEntry(int i) {
        try {
            long e = used + SplitRing.usedEntryOffset(i % size);
            return new Used(memory.readInt(e), memory.readInt(e + 4));
        } catch (GuestMemoryException ex) {
            throw new AssertionError(ex);
        }
    }

    private void write16(long address, int value) {
        try {
            memory.writeShort(address, (short) value);
        } catch (GuestMemoryException e) {
            throw new AssertionError(e);
        }
    }

    private int read16(long address) {
        try {
            return memory.readShort(address) & 0xFFFF;
        } catch (GuestMemoryException e) {
            throw new AssertionError(e);
        }
    }
}
