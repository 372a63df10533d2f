package dev.peridot.virtio.transport.vhostuser.internal;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * What the front-end told us about one ring (vhost-user spec, "Ring states"): its size, its
 * addresses in the front-end's address space, where to resume in the available ring, its kick,
 * call and error eventfds, whether it is started (a kick descriptor arrived and no
 * GET_VRING_BASE since) and whether it is enabled (SET_VRING_ENABLE). Whether the device is
 * actually processing it ({@link #running}) follows from those, see {@code Session.reconcile}.
 *
 * <p>Threads: the connection thread writes everything. The kick thread reads {@link #kickFd}
 * and {@link #running} and sets {@link #kickPending}. The device's worker signals
 * {@link #callFd} through {@link #signalCall()}, which shares a lock with the replacement of
 * the descriptor, so a descriptor is never written after it was closed (its number could
 * already belong to something else).
 */
public final class Vring {

    public final int index;

    /** SET_VRING_NUM, 0 until set. */
    int size;
    /** SET_VRING_ADDR, in the front-end's user addresses. */
    long descUser;
    long availUser;
    long usedUser;
    boolean addressesSet;
    /** The next available index to resume from (SET_VRING_BASE, or where the device stopped). */
    int base;
    /** A kick descriptor arrived and no GET_VRING_BASE stopped the ring since. */
    boolean started;
    /** SET_VRING_ENABLE; rings start disabled (the interpretation in the spec's "Ring states"). */
    boolean enabled;
    /** The device refused the ring's layout (from the guest); not retried until the front-end changes the ring. */
    boolean refused;

    /** The kick eventfd, -1 if none. */
    volatile int kickFd = -1;
    /** The device has the ring enabled and processes it. */
    volatile boolean running;
    /** A kick arrived while the ring was not running; the device scans the ring when it starts anyway. */
    volatile boolean kickPending;

    private final Object callLock = new Object();
    /** The call eventfd, -1 if none; guarded by {@link #callLock}. */
    private int callFd = -1;
    /** The error eventfd, -1 if none; guarded by {@link #callLock}. */
    private int errFd = -1;
    private final MemorySegment one;
    private long callsSent;

    Vring(int index, Arena arena) {
        this.index = index;
        this.one = arena.allocate(ValueLayout.JAVA_LONG);
        one.set(ValueLayout.JAVA_LONG, 0, 1L);
    }

    /** Signals the call eventfd (a used buffer notification, spec 2.3). Worker thread; allocation-free. */
    public void signalCall() {
        synchronized (callLock) {
            if (callFd >= 0 && Native.signalEventFd(callFd, one)) {
                callsSent++;
            }
        }
    }

    /** Signals the error eventfd; QEMU logs "vhost vring error" for it. */
    public void signalError() {
        synchronized (callLock) {
            if (errFd >= 0) {
                Native.signalEventFd(errFd, one);
            }
        }
    }

    /** Replaces the call descriptor (QEMU replaces it several times; the latest counts) and closes the old one. */
    void replaceCallFd(int fd) {
        int old;
        synchronized (callLock) {
            old = callFd;
            callFd = fd;
        }
        Native.closeQuietly(old);
    }

    void replaceErrFd(int fd) {
        int old;
        synchronized (callLock) {
            old = errFd;
            errFd = fd;
        }
        Native.closeQuietly(old);
    }

    long callsSent() {
        synchronized (callLock) {
            return callsSent;
        }
    }

    /** Closes the call and error descriptors (the kick descriptor belongs to the kick thread's retire list). */
    void closeNotifiers() {
        replaceCallFd(-1);
        replaceErrFd(-1);
    }

    @Override
    public String toString() {
        return "ring " + index + " [size " + size + ", base " + base + (started ? ", started" : "")
                + (enabled ? ", enabled" : "") + (running ? ", running" : "") + "]";
    }
}
