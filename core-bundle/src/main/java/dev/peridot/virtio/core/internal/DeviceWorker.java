package dev.peridot.virtio.core.internal;

import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.LockSupport;

/**
 * The thread a device's queue processing runs on ("threads are explicit", DESIGN.md).
 *
 * <p>Producers (vCPU threads writing QueueNotify, backend threads with new input) mark a queue
 * pending in a bitmap and wake the worker; marking allocates nothing. The worker runs its pass
 * until no work is signalled, then parks. A signal that arrives while a pass runs makes the
 * worker run another pass, so no wake-up is lost.
 */
public final class DeviceWorker {

    /** Queue indices are 16-bit (spec 4.2.2 QueueSel/QueueNotify), so 65536 bits cover every queue. */
    public static final int MAX_QUEUES = 65536;

    private static final System.Logger LOG = System.getLogger(DeviceWorker.class.getName());

    private final Thread thread;
    private final Runnable pass;
    private final AtomicBoolean signalled = new AtomicBoolean();
    private final AtomicLongArray pendingQueues = new AtomicLongArray(MAX_QUEUES / 64);
    private final ConcurrentLinkedQueue<Runnable> tasks = new ConcurrentLinkedQueue<>();
    private volatile boolean running = true;

    /**
     * @param name the thread name
     * @param pass the work to do each time the worker is woken; it must not throw
     */
    public DeviceWorker(String name, Runnable pass) {
        this.pass = pass;
        this.thread = new Thread(this::loop, name);
        this.thread.setDaemon(true);
    }

    public void start() {
        thread.start();
    }

    /** Marks queue {@code queue} pending and wakes the worker. Never allocates. */
    public void signalQueue(int queue) {
        if (queue < 0 || queue >= MAX_QUEUES) {
            return;
        }
        int word = queue >>> 6;
        long bit = 1L << (queue & 63);
        if ((pendingQueues.get(word) & bit) == 0) {
            pendingQueues.getAndUpdate(word, w -> w | bit);
        }
        wake();
    }

    /**
     * Takes the pending bits of word {@code word} (queues {@code 64*word} to {@code 64*word+63}),
     * clearing them.
     */
    public long takePendingWord(int word) {
        return pendingQueues.get(word) == 0 ? 0 : pendingQueues.getAndSet(word, 0);
    }

    /** Forgets every pending queue (after a reset: pending kicks are drained). */
    public void clearPending() {
        for (int i = 0; i < pendingQueues.length(); i++) {
            if (pendingQueues.get(i) != 0) {
                pendingQueues.set(i, 0);
            }
        }
    }

    /** Queues a task for the next pass. */
    public void submit(Runnable task) {
        tasks.add(task);
        wake();
    }

    /** The next queued task, or null. */
    public Runnable pollTask() {
        return tasks.poll();
    }

    /** Wakes the worker for another pass. */
    public void wake() {
        if (!signalled.getAndSet(true)) {
            LockSupport.unpark(thread);
        }
    }

    /** Whether the calling thread is this worker. */
    public boolean isWorkerThread() {
        return Thread.currentThread() == thread;
    }

    /** Whether the worker thread has not ended. */
    public boolean isAlive() {
        return thread.isAlive();
    }

    /**
     * Stops the worker and waits up to {@code timeoutMillis} for its thread to end.
     *
     * @return whether the thread has ended
     */
    public boolean stop(long timeoutMillis) {
        running = false;
        LockSupport.unpark(thread);
        if (isWorkerThread()) {
            return false;
        }
        try {
            thread.join(timeoutMillis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        tasks.clear();
        return !thread.isAlive();
    }

    private void loop() {
        while (running) {
            signalled.set(false);
            try {
                pass.run();
            } catch (Throwable t) {
                LOG.log(System.Logger.Level.ERROR, thread.getName() + ": unexpected error in worker pass", t);
            }
            if (running && !signalled.get()) {
                LockSupport.park(this);
            }
        }
    }
}
