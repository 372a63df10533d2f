package dev.peridot.virtio.fuzz.support;

import dev.peridot.virtio.core.internal.DeviceWorker;
import dev.peridot.virtio.device.VirtioDevice;
import java.lang.reflect.Method;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;

/**
 * Waits until a device's worker has done everything asked of it so far: a task is queued on the
 * worker, and once it has run, the worker must be seen parked in its idle wait (not in a lock,
 * not running). Every kick, status write and host event before the call has then been handled,
 * so the targets see one deterministic outcome per input instead of racing the worker; and a
 * worker that never gets idle (it spins, or waits for something that never comes) is caught.
 */
public final class WorkerBarrier {

    private final Consumer<Runnable> execute;
    private final AtomicLong barriers = new AtomicLong();
    private volatile Thread worker;

    /** A barrier that queues its task with {@code execute} (the device's own {@code execute}). */
    public WorkerBarrier(Consumer<Runnable> execute) {
        this.execute = execute;
    }

    /** A barrier for any device, through its protected {@code execute} (reflection: the targets run on the class path). */
    public static WorkerBarrier of(VirtioDevice device) {
        try {
            Method m = VirtioDevice.class.getDeclaredMethod("execute", Runnable.class);
            m.setAccessible(true);
            return new WorkerBarrier(task -> {
                try {
                    m.invoke(device, task);
                } catch (ReflectiveOperationException e) {
                    throw new IllegalStateException(e);
                }
            });
        } catch (NoSuchMethodException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Returns false if the worker is not idle within {@code timeoutNanos} (or the device is not attached). */
    public boolean quiesce(long timeoutNanos) {
        long target = barriers.get() + 1;
        execute.accept(() -> {
            worker = Thread.currentThread();
            barriers.incrementAndGet();
        });
        long start = System.nanoTime();
        long deadline = start + timeoutNanos;
        while (true) {
            if (barriers.get() >= target) {
                Thread t = worker;
                if (t != null && t.getState() == Thread.State.WAITING && LockSupport.getBlocker(t) instanceof DeviceWorker) {
                    return true;
                }
            }
            long now = System.nanoTime();
            if (now > deadline) {
                return false;
            }
            // The worker usually needs microseconds: spin briefly, then yield, then sleep (a sleep costs ~50 us,
            // which would dominate the executions per second).
            if (now - start < 50_000) {
                Thread.onSpinWait();
            } else if (now - start < 2_000_000) {
                Thread.yield();
            } else {
                LockSupport.parkNanos(20_000);
            }
        }
    }
}
