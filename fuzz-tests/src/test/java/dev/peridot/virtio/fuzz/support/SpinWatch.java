package dev.peridot.virtio.fuzz.support;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.concurrent.locks.LockSupport;

/**
 * Detects threads that burn CPU while nothing is asked of them (a poll loop on a descriptor
 * that is always ready, a worker that keeps rescheduling itself): over a short idle window a
 * healthy thread uses next to no CPU time. A cheap first look (0.2 ms) decides whether a longer
 * one (20 ms) is needed, so a healthy system costs little per input.
 */
public final class SpinWatch {

    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    private SpinWatch() {
    }

    /** Fails with {@link Finding.TooSlow} if a live thread whose name starts with one of {@code prefixes} spins. */
    public static void checkIdle(String when, String... prefixes) {
        Thread[] candidates = threads(prefixes);
        if (candidates.length == 0) {
            return;
        }
        long[] before = cpu(candidates);
        long t0 = System.nanoTime();
        LockSupport.parkNanos(200_000);
        long wall = System.nanoTime() - t0;
        long[] after = cpu(candidates);
        boolean suspicious = false;
        for (int i = 0; i < candidates.length; i++) {
            suspicious |= before[i] >= 0 && after[i] - before[i] > wall / 2;
        }
        if (!suspicious) {
            return;
        }
        before = cpu(candidates);
        t0 = System.nanoTime();
        LockSupport.parkNanos(20_000_000);
        wall = System.nanoTime() - t0;
        after = cpu(candidates);
        for (int i = 0; i < candidates.length; i++) {
            long used = after[i] - before[i];
            if (before[i] >= 0 && used > wall / 2) {
                throw new Finding.TooSlow(when + ": thread " + candidates[i].getName() + " used " + used / 1_000_000
                        + " ms of CPU in " + wall / 1_000_000 + " ms while idle (it spins)");
            }
        }
    }

    private static Thread[] threads(String[] prefixes) {
        Thread[] all = new Thread[Thread.activeCount() + 16];
        int n = Thread.enumerate(all);
        return java.util.Arrays.stream(all, 0, n).filter(t -> {
            for (String p : prefixes) {
                if (t.getName().startsWith(p)) {
                    return true;
                }
            }
            return false;
        }).toArray(Thread[]::new);
    }

    private static long[] cpu(Thread[] threads) {
        long[] out = new long[threads.length];
        for (int i = 0; i < threads.length; i++) {
            out[i] = THREADS.getThreadCpuTime(threads[i].threadId());
        }
        return out;
    }
}
