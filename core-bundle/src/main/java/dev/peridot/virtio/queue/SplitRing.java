package dev.peridot.virtio.queue;

/**
 * The split virtqueue format (spec 2.7): sizes, alignments, offsets and flags. Shared by the
 * device-side implementation and by drivers (the test kit) so both agree on one definition.
 */
public final class SplitRing {

    /** The largest split queue size (spec 2.7: Queue Size is at most 32768). */
    public static final int MAX_QUEUE_SIZE = 32768;

    /** Bytes per descriptor: le64 addr, le32 len, le16 flags, le16 next (2.7.5). */
    public static final int DESCRIPTOR_SIZE = 16;
    /** The descriptor continues via the next field. */
    public static final int DESC_F_NEXT = 1;
    /** The buffer is device-writable (otherwise device-readable). */
    public static final int DESC_F_WRITE = 2;
    /** The buffer holds a table of indirect descriptors (2.7.5.3). */
    public static final int DESC_F_INDIRECT = 4;

    /** avail.flags: the driver does not want used-buffer notifications (without EVENT_IDX). */
    public static final int AVAIL_F_NO_INTERRUPT = 1;
    /** used.flags: the device does not want available-buffer notifications (without EVENT_IDX). */
    public static final int USED_F_NO_NOTIFY = 1;

    /** Alignment of the descriptor table (2.7, table "Virtqueue Part Alignment"). */
    public static final int DESCRIPTOR_TABLE_ALIGN = 16;
    /** Alignment of the available ring. */
    public static final int AVAIL_RING_ALIGN = 2;
    /** Alignment of the used ring. */
    public static final int USED_RING_ALIGN = 4;

    /** Offset of flags in both rings. */
    public static final int RING_FLAGS = 0;
    /** Offset of idx in both rings. */
    public static final int RING_IDX = 2;
    /** Offset of the first ring entry in both rings. */
    public static final int RING_ENTRIES = 4;
    /** Bytes per available ring entry (le16 head index). */
    public static final int AVAIL_ENTRY_SIZE = 2;
    /** Bytes per used ring entry (le32 id, le32 len). */
    public static final int USED_ENTRY_SIZE = 8;

    private SplitRing() {
    }

    /** Whether {@code size} is a valid split queue size: a power of 2 from 1 to 32768. */
    public static boolean isValidSize(int size) {
        return size > 0 && size <= MAX_QUEUE_SIZE && Integer.bitCount(size) == 1;
    }

    /** Bytes of the descriptor table of a queue of {@code size}. */
    public static long descriptorTableBytes(int size) {
        return (long) DESCRIPTOR_SIZE * size;
    }

    /** Bytes of the available ring, including used_event (present with or without EVENT_IDX in memory). */
    public static long availRingBytes(int size) {
        return 6L + AVAIL_ENTRY_SIZE * (long) size;
    }

    /** Bytes of the used ring, including avail_event. */
    public static long usedRingBytes(int size) {
        return 6L + USED_ENTRY_SIZE * (long) size;
    }

    /** Offset of entry {@code i} of the available ring. */
    public static long availEntryOffset(int i) {
        return RING_ENTRIES + (long) AVAIL_ENTRY_SIZE * i;
    }

    /** Offset of used_event: the trailing field of the available ring. */
    public static long usedEventOffset(int size) {
        return RING_ENTRIES + (long) AVAIL_ENTRY_SIZE * size;
    }

    /** Offset of entry {@code i} of the used ring. */
    public static long usedEntryOffset(int i) {
        return RING_ENTRIES + (long) USED_ENTRY_SIZE * i;
    }

    /** Offset of avail_event: the trailing field of the used ring. */
    public static long availEventOffset(int size) {
        return RING_ENTRIES + (long) USED_ENTRY_SIZE * size;
    }

    /**
     * Whether moving an index from {@code oldIdx} to {@code newIdx} passes {@code eventIdx}
     * (spec 2.7.7.2 / 2.7.10 and Appendix A {@code vring_need_event}), with 16-bit wrap-around.
     */
    public static boolean needEvent(int eventIdx, int newIdx, int oldIdx) {
        return ((newIdx - eventIdx - 1) & 0xFFFF) < ((newIdx - oldIdx) & 0xFFFF);
    }
}
