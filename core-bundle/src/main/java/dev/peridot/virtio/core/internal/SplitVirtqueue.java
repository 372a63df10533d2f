package dev.peridot.virtio.core.internal;

import static dev.peridot.virtio.queue.SplitRing.DESC_F_INDIRECT;
import static dev.peridot.virtio.queue.SplitRing.DESC_F_NEXT;
import static dev.peridot.virtio.queue.SplitRing.DESC_F_WRITE;

import dev.peridot.virtio.device.NotifyDriver;
import dev.peridot.virtio.memory.GuestMemory;
import dev.peridot.virtio.memory.GuestMemoryException;
import dev.peridot.virtio.queue.DescriptorChain;
import dev.peridot.virtio.queue.QueueLayout;
import dev.peridot.virtio.queue.SplitRing;
import dev.peridot.virtio.queue.VirtqueueAccess;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * The device side of a split virtqueue (spec 2.7).
 *
 * <p>Validation, in the order the checks run: the available index may be at most the queue
 * size ahead of the device (a larger jump, or one backwards, is corruption: HD-27); a head
 * must be below the queue size and not already in flight (HD-28); a chain is walked at most
 * queue-size descriptors (no loops: HD-20/21), {@code next} must be below the queue size
 * (HD-22); every buffer must lie inside guest memory and outside the ring areas (HD-23, HD-33);
 * the total length must fit 32 bits (HD-24); writable buffers come after readable ones
 * (SPLIT-07); indirect tables need the feature, are not nested, not combined with NEXT, have a
 * non-zero length that is a multiple of 16 and at most {@link #maxIndirectEntries} entries
 * (HD-26). Each descriptor is read once into the chain's private copy (HD-30).
 *
 * <p>Any violation stops the queue and reports the fault; the device then enters
 * DEVICE_NEEDS_RESET. Nothing is retried, so a broken queue never spins.
 *
 * <p>Used only by the device's worker thread with the processing lock held. The device keeps
 * its own copies of the ring indices and never reads the used ring back (SPLIT-41).
 */
public final class SplitVirtqueue implements VirtqueueAccess {

    /** The smallest limit for indirect table entries; a larger queue allows its size (QEMU uses 1024 too). */
    public static final int MIN_INDIRECT_LIMIT = 1024;

    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** Coordinates (MemorySegment, long offset); used for the acquire/release accesses to the ring indices. */
    private static final VarHandle U16_HANDLE = U16.varHandle();

    private final int index;
    private final int size;
    private final int mask;
    private final int maxIndirectEntries;
    private final GuestMemory memory;
    private final MemorySegment descriptors;
    private final MemorySegment avail;
    private final MemorySegment used;
    private final long descStart;
    private final long descEnd;
    private final long availStart;
    private final long availEnd;
    private final long usedStart;
    private final long usedEnd;
    private final long usedEventOffset;
    private final long availEventOffset;
    private final boolean eventIdx;
    private final boolean indirect;
    private final NotifyDriver notifier;
    private final QueueFaultHandler faults;
    private final QueueSlot slot;
    private final int epoch;

    private int nextAvail;
    private int shadowAvail;
    private int usedIdx;
    private int publishedUsed;
    private volatile boolean halted;
    private boolean broken;

    private final SplitDescriptorChain[] inFlightByHead;
    private int inFlightCount;
    private SplitDescriptorChain[] free = new SplitDescriptorChain[8];
    private int freeCount;

    private SplitVirtqueue(QueueSlot slot, QueueLayout layout, GuestMemory memory, MemorySegment descriptors,
                           MemorySegment avail, MemorySegment used, boolean eventIdx, boolean indirect,
                           NotifyDriver notifier, QueueFaultHandler faults, int epoch, int nextAvail, int nextUsed) {
        this.slot = slot;
        this.index = slot.index;
        this.size = layout.size();
        this.mask = size - 1;
        this.maxIndirectEntries = Math.max(size, MIN_INDIRECT_LIMIT);
        this.memory = memory;
        this.descriptors = descriptors;
        this.avail = avail;
        this.used = used;
        this.descStart = layout.descriptorArea();
        this.descEnd = descStart + SplitRing.descriptorTableBytes(size);
        this.availStart = layout.driverArea();
        this.availEnd = availStart + SplitRing.availRingBytes(size);
        this.usedStart = layout.deviceArea();
        this.usedEnd = usedStart + SplitRing.usedRingBytes(size);
        this.usedEventOffset = SplitRing.usedEventOffset(size);
        this.availEventOffset = SplitRing.availEventOffset(size);
        this.eventIdx = eventIdx;
        this.indirect = indirect;
        this.notifier = notifier;
        this.faults = faults;
        this.epoch = epoch;
        this.nextAvail = nextAvail & 0xFFFF;
        this.shadowAvail = this.nextAvail;
        this.usedIdx = nextUsed & 0xFFFF;
        this.publishedUsed = this.usedIdx;
        this.inFlightByHead = new SplitDescriptorChain[size];
    }

    /**
     * Validates a layout against guest memory and creates the queue; returns null and explains
     * why in {@code problem[0]} when the layout is invalid (the enable is then refused, HD-04,
     * HD-09, HD-10).
     *
     * @param resumeNextAvail the ring position to resume from (vhost-user), or -1 for a fresh
     *                        queue that starts at 0 and initializes the used ring header
     */
    public static SplitVirtqueue create(QueueSlot slot, QueueLayout layout, GuestMemory memory, boolean eventIdx,
                                        boolean indirect, NotifyDriver notifier, QueueFaultHandler faults, int epoch,
                                        int resumeNextAvail, String[] problem) {
        int size = layout.size();
        if (!SplitRing.isValidSize(size) || size > slot.maxSize) {
            problem[0] = "queue size " + size + " is not a power of 2 between 1 and " + slot.maxSize;
            return null;
        }
        long desc = layout.descriptorArea();
        long drv = layout.driverArea();
        long dev = layout.deviceArea();
        if ((desc & (SplitRing.DESCRIPTOR_TABLE_ALIGN - 1)) != 0 || (drv & (SplitRing.AVAIL_RING_ALIGN - 1)) != 0
                || (dev & (SplitRing.USED_RING_ALIGN - 1)) != 0) {
            problem[0] = String.format("ring areas misaligned: desc 0x%x (16), avail 0x%x (2), used 0x%x (4)", desc, drv, dev);
            return null;
        }
        long descLen = SplitRing.descriptorTableBytes(size);
        long availLen = SplitRing.availRingBytes(size);
        long usedLen = SplitRing.usedRingBytes(size);
        if (overlaps(desc, descLen, drv, availLen) || overlaps(desc, descLen, dev, usedLen) || overlaps(drv, availLen, dev, usedLen)) {
            problem[0] = String.format("ring areas overlap: desc 0x%x+%d, avail 0x%x+%d, used 0x%x+%d",
                    desc, descLen, drv, availLen, dev, usedLen);
            return null;
        }
        MemorySegment d;
        MemorySegment a;
        MemorySegment u;
        try {
            d = memory.segment(desc, descLen);
            a = memory.segment(drv, availLen);
            u = memory.segment(dev, usedLen);
        } catch (GuestMemoryException e) {
            problem[0] = "ring area outside guest memory: " + e.getMessage();
            return null;
        }
        if ((d.address() & 15) != 0 || (a.address() & 1) != 0 || (u.address() & 3) != 0) {
            problem[0] = "ring areas are misaligned in host memory";
            return null;
        }
        int nextAvail = 0;
        int nextUsed = 0;
        if (resumeNextAvail >= 0) {
            // Resuming a ring another back-end (or an earlier session) drove: the used index
            // lives in guest memory; the device continues from it.
            nextAvail = resumeNextAvail;
            nextUsed = u.get(U16, SplitRing.RING_IDX) & 0xFFFF;
        } else {
            // A fresh ring: flags 0 (notifications wanted, SPLIT-45) and idx 0.
            u.set(U16, SplitRing.RING_FLAGS, (short) 0);
            U16_HANDLE.setRelease(u, (long) SplitRing.RING_IDX, (short) 0);
        }
        SplitVirtqueue q = new SplitVirtqueue(slot, layout, memory, d, a, u, eventIdx, indirect, notifier, faults,
                epoch, nextAvail, nextUsed);
        if (eventIdx) {
            q.publishAvailEvent();
        }
        return q;
    }

    private static boolean overlaps(long a, long aLen, long b, long bLen) {
        return a < b + bLen && b < a + aLen;
    }

    GuestMemory memory() {
        return memory;
    }

    @Override
    public int index() {
        return index;
    }

    @Override
    public int size() {
        return size;
    }

    @Override
    public boolean isBroken() {
        return broken;
    }

    @Override
    public int inFlight() {
        return inFlightCount;
    }

    /** The device's index of the next available entry (vhost-user GET_VRING_BASE). */
    public int nextAvail() {
        return nextAvail;
    }

    /** The used index the device last published. */
    public int publishedUsed() {
        return publishedUsed;
    }

    /** avail.idx as the driver last wrote it, read for inspection. */
    public int driverAvailIdx() {
        return (short) U16_HANDLE.getAcquire(avail, (long) SplitRing.RING_IDX) & 0xFFFF;
    }

    /** Stops the queue for good: later pops return null and pushes are ignored. */
    public void halt() {
        halted = true;
    }

    @Override
    public void rereadAvailIndex() {
        shadowAvail = nextAvail;
    }

    @Override
    public boolean hasAvailable() {
        if (halted || broken) {
            return false;
        }
        if (nextAvail != shadowAvail) {
            return true;
        }
        int idx = readAvailIdx();
        if (idx == nextAvail) {
            return false;
        }
        return checkAvailIdx(idx);
    }

    @Override
    public DescriptorChain pop() {
        if (halted || broken) {
            return null;
        }
        if (nextAvail == shadowAvail && !refreshAvail()) {
            return null;
        }
        int head = avail.get(U16, SplitRing.availEntryOffset(nextAvail & mask)) & 0xFFFF;
        if (head >= size) {
            fault(String.format("available ring entry %d names descriptor %d, beyond the queue size %d",
                    nextAvail, head, size));
            return null;
        }
        if (inFlightByHead[head] != null) {
            fault("descriptor " + head + " made available again while still in flight");
            return null;
        }
        SplitDescriptorChain chain = takeChain();
        chain.reset(head, epoch);
        if (!walk(chain, head)) {
            recycle(chain);
            return null;
        }
        nextAvail = (nextAvail + 1) & 0xFFFF;
        inFlightByHead[head] = chain;
        inFlightCount++;
        slot.chainsPopped++;
        return chain;
    }

    private int readAvailIdx() {
        return (short) U16_HANDLE.getAcquire(avail, (long) SplitRing.RING_IDX) & 0xFFFF;
    }

    /** Validates a new avail.idx and caches it; false (and a fault) if it is corrupt. */
    private boolean checkAvailIdx(int idx) {
        int pending = (idx - nextAvail) & 0xFFFF;
        if (pending > size) {
            fault(String.format("avail idx %d is %d entries ahead of the device's %d, more than the queue size %d",
                    idx, pending, nextAvail, size));
            return false;
        }
        shadowAvail = idx;
        return true;
    }

    /**
     * Reads avail.idx; when the ring is empty and EVENT_IDX was negotiated, asks the driver for
     * a notification at the next entry (avail_event) and reads again, so a buffer added in
     * between is not stranded (SPLIT-48).
     */
    private boolean refreshAvail() {
        int idx = readAvailIdx();
        if (idx == nextAvail) {
            if (!eventIdx) {
                return false;
            }
            publishAvailEvent();
            idx = readAvailIdx();
            if (idx == nextAvail) {
                return false;
            }
        }
        return checkAvailIdx(idx);
    }

    private void publishAvailEvent() {
        used.set(U16, availEventOffset, (short) nextAvail);
        VarHandle.fullFence();
    }

    private boolean walk(SplitDescriptorChain chain, int head) {
        int idx = head;
        int walked = 0;
        while (true) {
            if (++walked > size) {
                return fault("descriptor chain from head " + head + " is longer than the queue size " + size
                        + " (a loop)");
            }
            long off = (long) idx * SplitRing.DESCRIPTOR_SIZE;
            long address = descriptors.get(U64, off);
            long length = descriptors.get(U32, off + 8) & 0xFFFF_FFFFL;
            int flags = descriptors.get(U16, off + 12) & 0xFFFF;
            int next = descriptors.get(U16, off + 14) & 0xFFFF;
            if ((flags & DESC_F_INDIRECT) != 0) {
                if (!indirect) {
                    return fault("descriptor " + idx + " is INDIRECT but VIRTIO_F_INDIRECT_DESC was not negotiated");
                }
                if ((flags & DESC_F_NEXT) != 0) {
                    return fault("descriptor " + idx + " has both INDIRECT and NEXT");
                }
                // The WRITE flag of the descriptor that refers to the table is ignored (2.7.5.3.2).
                return walkIndirect(chain, address, length);
            }
            if (!addSegment(chain, address, length, (flags & DESC_F_WRITE) != 0)) {
                return false;
            }
            if ((flags & DESC_F_NEXT) == 0) {
                return true;
            }
            if (next >= size) {
                return fault("descriptor " + idx + " links to " + next + ", beyond the queue size " + size);
            }
            idx = next;
        }
    }

    private boolean walkIndirect(SplitDescriptorChain chain, long table, long tableLength) {
        if (tableLength == 0 || tableLength % SplitRing.DESCRIPTOR_SIZE != 0) {
            return fault("indirect table length " + tableLength + " is not a non-zero multiple of 16");
        }
        long entries = tableLength / SplitRing.DESCRIPTOR_SIZE;
        if (entries > maxIndirectEntries) {
            return fault("indirect table of " + entries + " entries exceeds the limit of " + maxIndirectEntries);
        }
        if (!memory.isValid(table, tableLength) || touchesRings(table, tableLength)) {
            return fault(String.format("indirect table at 0x%x+%d is outside guest memory or on a ring", table, tableLength));
        }
        int i = 0;
        int walked = 0;
        try {
            while (true) {
                if (++walked > entries) {
                    return fault("indirect descriptor chain is longer than its table (a loop)");
                }
                long entry = table + (long) i * SplitRing.DESCRIPTOR_SIZE;
                long address = memory.readLong(entry);
                long length = memory.readInt(entry + 8) & 0xFFFF_FFFFL;
                int flags = memory.readShort(entry + 12) & 0xFFFF;
                int next = memory.readShort(entry + 14) & 0xFFFF;
                if ((flags & DESC_F_INDIRECT) != 0) {
                    return fault("nested INDIRECT descriptor in an indirect table");
                }
                if (!addSegment(chain, address, length, (flags & DESC_F_WRITE) != 0)) {
                    return false;
                }
                if ((flags & DESC_F_NEXT) == 0) {
                    return true;
                }
                if (next >= entries) {
                    return fault("indirect descriptor links to " + next + ", beyond its table of " + entries);
                }
                i = next;
            }
        } catch (GuestMemoryException e) {
            return fault("indirect table unreadable: " + e.getMessage());
        }
    }

    private boolean addSegment(SplitDescriptorChain chain, long address, long length, boolean writable) {
        if (length == 0) {
            return true; // Zero-length descriptors carry nothing (HD-24: tolerated).
        }
        if (chain.totalLength() + length > 0xFFFF_FFFFL) {
            return fault("descriptor chain longer than 2^32 bytes");
        }
        if (!memory.isValid(address, length)) {
            return fault(String.format("buffer 0x%x+%d is outside guest memory", address, length));
        }
        if (touchesRings(address, length)) {
            return fault(String.format("buffer 0x%x+%d overlaps the queue's own rings", address, length));
        }
        if (!writable && chain.hasWritable()) {
            return fault("device-readable buffer after a device-writable one");
        }
        chain.add(address, length, writable);
        return true;
    }

    private boolean touchesRings(long address, long length) {
        long end = address + length;
        return (address < descEnd && descStart < end) || (address < availEnd && availStart < end)
                || (address < usedEnd && usedStart < end);
    }

    @Override
    public void addUsed(DescriptorChain chain, int writtenLength) {
        if (!(chain instanceof SplitDescriptorChain c) || c.queue != this || c.epoch != epoch
                || inFlightByHead[c.head] != c || halted) {
            return; // Stale (popped before a reset) or foreign: nothing to complete.
        }
        long written = Math.max(0, Math.min(writtenLength & 0xFFFF_FFFFL, c.writableLength()));
        long entry = SplitRing.usedEntryOffset(usedIdx & mask);
        used.set(U32, entry, c.head);
        used.set(U32, entry + 4, (int) written);
        usedIdx = (usedIdx + 1) & 0xFFFF;
        inFlightByHead[c.head] = null;
        inFlightCount--;
        slot.buffersUsed++;
        recycle(c);
    }

    @Override
    public boolean flushUsed() {
        if (halted) {
            return false; // Entries added (or ignored) since the halt are not visible to the driver.
        }
        if (usedIdx == publishedUsed) {
            return true;
        }
        int old = publishedUsed;
        int now = usedIdx;
        // Entries and lengths before the index (SPLIT-36, 2.7.13.3).
        U16_HANDLE.setRelease(used, (long) SplitRing.RING_IDX, (short) now);
        publishedUsed = now;
        // The driver's suppression fields are read after the index is visible (2.7.7.2).
        VarHandle.fullFence();
        boolean notify;
        if (eventIdx) {
            int usedEvent = avail.get(U16, usedEventOffset) & 0xFFFF;
            notify = SplitRing.needEvent(usedEvent, now, old);
        } else {
            notify = (avail.get(U16, SplitRing.RING_FLAGS) & SplitRing.AVAIL_F_NO_INTERRUPT) == 0;
        }
        if (notify) {
            slot.notificationsSent++;
            notifier.usedBuffer(index);
        }
        return true;
    }

    private SplitDescriptorChain takeChain() {
        if (freeCount > 0) {
            SplitDescriptorChain c = free[--freeCount];
            free[freeCount] = null;
            return c;
        }
        return new SplitDescriptorChain(this);
    }

    private void recycle(SplitDescriptorChain chain) {
        if (freeCount == free.length) {
            if (freeCount >= size) {
                return;
            }
            free = java.util.Arrays.copyOf(free, Math.min(size, free.length * 2));
        }
        free[freeCount++] = chain;
    }

    void memoryFault(GuestMemoryException e) {
        fault("guest memory failed during a buffer copy: " + e.getMessage());
    }

    private boolean fault(String problem) {
        if (!broken) {
            broken = true;
            faults.queueFault(index, problem);
        }
        return false;
    }
}
