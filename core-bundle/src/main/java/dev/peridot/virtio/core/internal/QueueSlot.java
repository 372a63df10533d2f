package dev.peridot.virtio.core.internal;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * One queue of a device: what the driver configured (size, areas), whether it is enabled, and
 * the counters that outlive an enable. Configuration fields are written under the device's
 * control lock; {@link #access} is published (volatile) when the queue is enabled and cleared,
 * under the processing lock, when it stops.
 */
public final class QueueSlot {

    /** areasWritten bit: the Descriptor Area address was written. */
    public static final int DESC_WRITTEN = 1;
    /** areasWritten bit: the Driver Area address was written. */
    public static final int DRIVER_WRITTEN = 2;
    /** areasWritten bit: the Device Area address was written. */
    public static final int DEVICE_WRITTEN = 4;
    /** All three areas written. */
    public static final int ALL_WRITTEN = 7;

    private static final VarHandle NOTIFICATIONS;

    static {
        try {
            NOTIFICATIONS = MethodHandles.lookup().findVarHandle(QueueSlot.class, "notificationsReceived", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    public final int index;
    public volatile int maxSize;
    public volatile int size;
    public volatile long descriptorArea;
    public volatile long driverArea;
    public volatile long deviceArea;
    public volatile int areasWritten;
    /** Ring position to resume from at the next enable, or -1 to start at 0 (vhost-user SET_VRING_BASE). */
    public volatile int resumeNextAvail = -1;
    /** Where the device stopped reading the available ring when the queue last stopped, or -1. */
    public volatile int stoppedNextAvail = -1;

    /** The enabled queue, or null. */
    public volatile SplitVirtqueue access;
    /** QueueReady=0 or a queue reset was asked for and has not finished. */
    public volatile boolean stopRequested;
    /** The stop that is pending is a queue reset (QueueReset reads 1 until done). */
    public volatile boolean resetRequested;

    /** Available buffer notifications received (vCPU threads; a lost increment under contention is tolerated). */
    @SuppressWarnings("unused")
    private volatile long notificationsReceived;
    /** Written by the worker only. */
    public long chainsPopped;
    public long buffersUsed;
    public long notificationsSent;

    public QueueSlot(int index, int maxSize) {
        this.index = index;
        this.maxSize = maxSize;
    }

    public void countNotification() {
        NOTIFICATIONS.getAndAdd(this, 1L);
    }

    public long notificationsReceived() {
        return (long) NOTIFICATIONS.getVolatile(this);
    }

    /** Back to the state after a device reset (spec 4.2.2.1, MMIO-47: everything 0). */
    public void clearConfiguration() {
        size = 0;
        descriptorArea = 0;
        driverArea = 0;
        deviceArea = 0;
        areasWritten = 0;
        resumeNextAvail = -1;
        stoppedNextAvail = -1;
    }
}
