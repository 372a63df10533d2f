package dev.peridot.virtio.console.internal.backend;

import dev.peridot.virtio.queue.DescriptorChain;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A bounded byte FIFO between the device's worker and a backend's threads (one per direction
 * of a port). Positions are 64-bit stream offsets; {@code head} is the next byte to take,
 * {@code tail} the next to write.
 *
 * <p>Locking: one lock guards the positions and the array; it is held only while bytes are
 * copied (guest memory or host arrays, never I/O), so the worker's non-blocking calls wait at
 * most for a copy. Backend threads block on the conditions ({@link #awaitData},
 * {@link #awaitSpace}) with timeouts; the worker never does.
 *
 * <p>Consumers: one at a time. {@link #peek}/{@link #commit} let a writer pass bytes on and
 * remove only what its channel took, so a failed write loses nothing.
 *
 * <p>Space notification: a producer that could not place everything ({@link #fromGuest} with
 * back-pressure) sets a flag under the lock; the consumer that frees space clears it and runs
 * the space listener (the device's {@code requestProcessing} of the transmit queue) after
 * unlocking. Both happen under the same lock, so no wake-up is lost.
 */
public final class ByteRing {

    private final byte[] buffer;
    private final int capacity;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition notEmpty = lock.newCondition();
    private final Condition notFull = lock.newCondition();
    private long head;
    private long tail;
    private long peekStart;
    private boolean producerWaiting;
    private volatile Runnable spaceListener = () -> { };
    private volatile Runnable dataListener = () -> { };
    private volatile long dropped;
    private volatile long totalIn;
    private volatile long totalOut;

    public ByteRing(int capacity) {
        if (capacity < 1) {
            throw new IllegalArgumentException("capacity " + capacity);
        }
        this.capacity = capacity;
        this.buffer = new byte[capacity];
    }

    /** Called (outside the lock) when a consumer freed space that a waiting producer needs. */
    public void setSpaceListener(Runnable listener) {
        this.spaceListener = listener;
    }

    /** Called (outside the lock) after a producer added bytes to an empty or non-empty ring. */
    public void setDataListener(Runnable listener) {
        this.dataListener = listener;
    }

    public int capacity() {
        return capacity;
    }

    /** Bytes buffered now. */
    public int size() {
        lock.lock();
        try {
            return (int) (tail - head);
        } finally {
            lock.unlock();
        }
    }

    /** Bytes of free space now. */
    public int free() {
        lock.lock();
        try {
            return capacity - (int) (tail - head);
        } finally {
            lock.unlock();
        }
    }

    /** Bytes discarded by the drop-oldest policy so far. */
    public long dropped() {
        return dropped;
    }

    /** Bytes added so far. */
    public long totalIn() {
        return totalIn;
    }

    /** Bytes taken by consumers so far. */
    public long totalOut() {
        return totalOut;
    }

    // ------------------------------------------------------------------ producers

    /** Adds as much of {@code src[off..off+len)} as fits; never blocks. Returns the bytes added. */
    public int offer(byte[] src, int off, int len) {
        int n;
        lock.lock();
        try {
            n = Math.min(len, capacity - (int) (tail - head));
            if (n > 0) {
                copyIn(src, off, n);
                tail += n;
                totalIn += n;
                notEmpty.signal();
            }
        } finally {
            lock.unlock();
        }
        if (n > 0) {
            dataListener.run();
        }
        return n;
    }

    /**
     * Adds all of {@code src[off..off+len)} (at most the last {@code capacity} bytes of it),
     * discarding the oldest buffered bytes to make room. Returns the bytes discarded.
     */
    public int offerDropOldest(byte[] src, int off, int len) {
        int drop;
        lock.lock();
        try {
            int skip = Math.max(0, len - capacity);
            drop = skip;
            int n = len - skip;
            int overflow = n - (capacity - (int) (tail - head));
            if (overflow > 0) {
                head += overflow;
                drop += overflow;
            }
            copyIn(src, off + skip, n);
            tail += n;
            totalIn += n;
            if (drop > 0) {
                dropped += drop;
            }
            notEmpty.signal();
        } finally {
            lock.unlock();
        }
        dataListener.run();
        return drop;
    }

    private void copyIn(byte[] src, int off, int n) {
        int at = (int) (tail % capacity);
        int first = Math.min(n, capacity - at);
        System.arraycopy(src, off, buffer, at, first);
        if (first < n) {
            System.arraycopy(src, off + first, buffer, 0, n - first);
        }
    }

    /**
     * Worker: copies up to {@code length} readable bytes of {@code chain} from
     * {@code chainOffset} into the ring. With {@code dropOldest} everything is taken (the oldest
     * buffered bytes make room and are counted as dropped); otherwise only what fits, and if
     * not everything fit the space listener will be run once a consumer frees space.
     *
     * @return bytes taken from the chain, or -1 if guest memory failed (the queue has reported it)
     */
    public int fromGuest(DescriptorChain chain, long chainOffset, long length, boolean dropOldest) {
        lock.lock();
        try {
            long free = capacity - (tail - head);
            long n;
            long skip = 0;
            if (dropOldest) {
                if (length > capacity) {
                    skip = length - capacity; // Only the last capacity bytes can survive.
                }
                n = length - skip;
                long overflow = n - free;
                if (overflow > 0) {
                    head += overflow;
                    dropped += overflow;
                }
                if (skip > 0) {
                    dropped += skip;
                }
            } else {
                n = Math.min(length, free);
                if (n < length) {
                    producerWaiting = true;
                }
            }
            int count = (int) n;
            int at = (int) (tail % capacity);
            int first = Math.min(count, capacity - at);
            long from = chainOffset + skip;
            if (first > 0 && chain.read(from, buffer, at, first) != first) {
                return -1;
            }
            if (first < count && chain.read(from + first, buffer, 0, count - first) != count - first) {
                return -1;
            }
            if (count > 0) {
                tail += count;
                totalIn += count;
                notEmpty.signal();
            }
            return (int) (count + skip);
        } finally {
            lock.unlock();
        }
    }

    /** Records that a producer waits for space (it will be told through the space listener). */
    public void requestSpaceNotification() {
        boolean now;
        lock.lock();
        try {
            now = tail - head < capacity;
            if (!now) {
                producerWaiting = true;
            }
        } finally {
            lock.unlock();
        }
        if (now) {
            spaceListener.run();
        }
    }

    // ------------------------------------------------------------------ consumers

    /**
     * Worker: copies up to {@code max} bytes, starting {@code skip} bytes after the head, into
     * the writable part of {@code chain} (from its offset 0) without removing them;
     * {@link #consume} removes them once the driver can see the chain. Returns the bytes
     * copied, or -1 if guest memory failed.
     */
    public int copyToGuest(DescriptorChain chain, long skip, int max) {
        lock.lock();
        try {
            int n = (int) Math.min(max, tail - head - skip);
            if (n <= 0) {
                return 0;
            }
            long from = head + skip;
            int at = (int) (from % capacity);
            int first = Math.min(n, capacity - at);
            if (chain.write(0, buffer, at, first) != first) {
                return -1;
            }
            if (first < n && chain.write(first, buffer, 0, n - first) != n - first) {
                return -1;
            }
            return n;
        } finally {
            lock.unlock();
        }
    }

    /** Worker: removes {@code n} bytes from the head (after {@link #copyToGuest}). */
    public void consume(long n) {
        lock.lock();
        try {
            long k = Math.min(n, tail - head);
            head += k;
            totalOut += k;
            notFull.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Copies up to {@code len} bytes from the head without removing them; {@link #commit} removes them. */
    public int peek(byte[] dst, int off, int len) {
        lock.lock();
        try {
            int n = (int) Math.min(len, tail - head);
            int at = (int) (head % capacity);
            int first = Math.min(n, capacity - at);
            System.arraycopy(buffer, at, dst, off, first);
            if (first < n) {
                System.arraycopy(buffer, 0, dst, off + first, n - first);
            }
            peekStart = head;
            return n;
        } finally {
            lock.unlock();
        }
    }

    /** Removes {@code n} bytes counted from the last {@link #peek}'s start (bytes dropped meanwhile are not removed twice). */
    public void commit(int n) {
        boolean notify = false;
        lock.lock();
        try {
            long end = peekStart + n;
            if (end > head) {
                long taken = end - head;
                head = end;
                totalOut += taken;
                notFull.signalAll();
                if (producerWaiting) {
                    producerWaiting = false;
                    notify = true;
                }
            }
        } finally {
            lock.unlock();
        }
        if (notify) {
            spaceListener.run();
        }
    }

    /** Takes up to {@code len} bytes (peek and commit in one step). */
    public int take(byte[] dst, int off, int len) {
        int n = peek(dst, off, len);
        commit(n);
        return n;
    }

    /** Removes everything; returns the bytes removed. */
    public int clear() {
        boolean notify;
        int n;
        lock.lock();
        try {
            n = (int) (tail - head);
            head = tail;
            notFull.signalAll();
            notify = producerWaiting;
            producerWaiting = false;
        } finally {
            lock.unlock();
        }
        if (notify) {
            spaceListener.run();
        }
        return n;
    }

    // ------------------------------------------------------------------ waiting (backend threads only)

    /** Waits up to {@code timeout} for at least one byte; returns whether there is one. */
    public boolean awaitData(long timeout, TimeUnit unit) throws InterruptedException {
        long nanos = unit.toNanos(timeout);
        lock.lock();
        try {
            while (tail == head) {
                if (nanos <= 0) {
                    return false;
                }
                nanos = notEmpty.awaitNanos(nanos);
            }
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** Waits up to {@code timeout} for free space; returns whether there is some. */
    public boolean awaitSpace(long timeout, TimeUnit unit) throws InterruptedException {
        long nanos = unit.toNanos(timeout);
        lock.lock();
        try {
            while (tail - head >= capacity) {
                if (nanos <= 0) {
                    return false;
                }
                nanos = notFull.awaitNanos(nanos);
            }
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** Wakes every waiting thread (on close). */
    public void wakeAll() {
        lock.lock();
        try {
            notEmpty.signalAll();
            notFull.signalAll();
        } finally {
            lock.unlock();
        }
    }

    @Override
    public String toString() {
        return "ByteRing[" + size() + "/" + capacity + "]";
    }
}
