package dev.peridot.virtio.fuzz.support;

import java.util.concurrent.TimeUnit;

/**
 * The parts of the fuzz oracle every target shares: the time bound per operation and the check
 * that nothing but {@link Finding}s escapes.
 *
 * <p>The bound is 100 ms (system property {@code peridot.fuzz.boundMillis}). It is generous for
 * a register access or a message (microseconds when healthy) and tight enough that a device
 * that blocks its caller, waits for a lost wake-up or spins is caught. An operation over the
 * bound throws {@link Finding.TooSlow}; the targets replay the input once and report it only
 * if it is slow again, so a machine that was busy with a build does not produce findings.
 */
public final class Oracle {

    /** The time bound of one operation. */
    public static final long BOUND_NANOS =
            TimeUnit.MILLISECONDS.toNanos(Long.getLong("peridot.fuzz.boundMillis", 100));

    private Oracle() {
    }

    /** Something that a target does to the system under test. */
    @FunctionalInterface
    public interface Step<T> {
        T run() throws Exception;
    }

    /** Something that a target does to the system under test, without a result. */
    @FunctionalInterface
    public interface VoidStep {
        void run() throws Exception;
    }

    /**
     * Runs {@code step}: any exception but a {@link Finding} is a finding (it escaped from the
     * transport or the device into the caller), and so is taking longer than the bound.
     */
    public static <T> T call(String what, Step<T> step) {
        long start = System.nanoTime();
        T result;
        try {
            result = step.run();
        } catch (Finding f) {
            throw f;
        } catch (Exception | LinkageError | AssertionError e) {
            throw new Finding(what + " threw " + e, e);
        }
        long took = System.nanoTime() - start;
        if (took > BOUND_NANOS) {
            throw new Finding.TooSlow(what + " took " + TimeUnit.NANOSECONDS.toMillis(took) + " ms (bound "
                    + TimeUnit.NANOSECONDS.toMillis(BOUND_NANOS) + " ms)");
        }
        return result;
    }

    /** {@link #call} without a result. */
    public static void run(String what, VoidStep step) {
        call(what, () -> {
            step.run();
            return null;
        });
    }

    /** Fails with a finding unless {@code condition} holds. */
    public static void check(boolean condition, String what) {
        if (!condition) {
            throw new Finding(what);
        }
    }

    /**
     * Runs one input; if it reports {@link Finding.TooSlow}, runs it once more from a fresh
     * start and reports only a repeat. {@code fresh} rebuilds the system under test.
     */
    public static void withTimingConfirmation(Runnable fresh, Runnable input) {
        try {
            input.run();
        } catch (Finding.TooSlow first) {
            fresh.run();
            try {
                input.run();
            } catch (Finding.TooSlow second) {
                second.addSuppressed(first);
                throw second;
            }
        }
    }
}
