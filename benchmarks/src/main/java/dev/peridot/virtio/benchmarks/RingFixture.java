package dev.peridot.virtio.benchmarks;

import dev.peridot.virtio.core.internal.QueueSlot;
import dev.peridot.virtio.core.internal.SplitVirtqueue;
import dev.peridot.virtio.device.NotifyDriver;
import dev.peridot.virtio.memory.GuestMemoryException;
import dev.peridot.virtio.memory.SegmentGuestMemory;
import dev.peridot.virtio.queue.QueueLayout;
import dev.peridot.virtio.queue.SplitRing;

/**
 * A split queue in off-heap guest memory plus the few driver-side writes a benchmark needs to
 * make chains available again. The device side is the production {@link SplitVirtqueue}.
 */
final class RingFixture implements AutoCloseable, NotifyDriver {

    static final long RAM = 0x4000_0000L;
    final SegmentGuestMemory memory = SegmentGuestMemory.allocate(RAM, 16 << 20);
    final int size;
    final long desc;
    final long avail;
    final long used;
    final SplitVirtqueue queue;
    long notifications;
    private int availIdx;

    RingFixture(int size, boolean eventIdx, boolean indirect) {
        this.size = size;
        desc = RAM;
        avail = desc + SplitRing.descriptorTableBytes(size);
        used = (avail + SplitRing.availRingBytes(size) + 4095) & ~4095L;
        String[] problem = new String[1];
        queue = SplitVirtqueue.create(new QueueSlot(0, size), new QueueLayout(size, desc, avail, used), memory,
                eventIdx, indirect, this, (q, p) -> {
                    throw new IllegalStateException(p);
                }, 1, -1, problem);
        if (queue == null) {
            throw new IllegalStateException(problem[0]);
        }
    }

    /** Guest address for data, past the rings. */
    long data(long offset) {
        return RAM + (1 << 20) + offset;
    }

    void descriptor(int index, long address, int length, int flags, int next) throws GuestMemoryException {
        long d = desc + 16L * index;
        memory.writeLong(d, address);
        memory.writeInt(d + 8, length);
        memory.writeShort(d + 12, (short) flags);
        memory.writeShort(d + 14, (short) next);
    }

    void tableEntry(long table, int index, long address, int length, int flags, int next) throws GuestMemoryException {
        long d = table + 16L * index;
        memory.writeLong(d, address);
        memory.writeInt(d + 8, length);
        memory.writeShort(d + 12, (short) flags);
        memory.writeShort(d + 14, (short) next);
    }

    /** The driver makes {@code head} available (ring entry, then idx). */
    void publish(int head) throws GuestMemoryException {
        memory.writeShort(avail + 4 + 2L * (availIdx & (size - 1)), (short) head);
        availIdx = (availIdx + 1) & 0xFFFF;
        memory.writeShort(avail + 2, (short) availIdx);
    }

    /** The driver asks for a used-buffer notification when used idx passes {@code value} (EVENT_IDX). */
    void usedEvent(int value) throws GuestMemoryException {
        memory.writeShort(avail + SplitRing.usedEventOffset(size), (short) value);
    }

    int availIdx() {
        return availIdx;
    }

    @Override
    public void usedBuffer(int q) {
        notifications++;
    }

    @Override
    public void configurationChanged() {
    }

    @Override
    public void close() {
        memory.close();
    }
}
