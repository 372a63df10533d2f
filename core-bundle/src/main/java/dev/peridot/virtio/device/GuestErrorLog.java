package dev.peridot.virtio.device;

import java.util.concurrent.atomic.AtomicLong;

/**
 * A rate-limited log of guest errors: what an untrusted driver did wrong. A hostile driver can
 * produce millions of bad accesses a second, so at most {@value #BURST} messages are logged per
 * {@value #WINDOW_MILLIS} ms; the rest are only counted.
 */
public final class GuestErrorLog {

    /** Messages logged per window. */
    public static final int BURST = 20;
    /** The window length in milliseconds. */
    public static final long WINDOW_MILLIS = 10_000;

    private final System.Logger logger;
    private final String prefix;
    private final AtomicLong total = new AtomicLong();
    private final AtomicLong windowStart = new AtomicLong(Long.MIN_VALUE);
    private final AtomicLong inWindow = new AtomicLong();
    private final AtomicLong suppressed = new AtomicLong();

    /** A log for a component, with messages prefixed by {@code prefix} (for example the device name). */
    public GuestErrorLog(Class<?> component, String prefix) {
        this.logger = System.getLogger(component.getName());
        this.prefix = prefix;
    }

    /** Counts a guest error and logs it unless the rate limit is reached. */
    public void report(String message) {
        total.incrementAndGet();
        long now = System.currentTimeMillis();
        long start = windowStart.get();
        if (now - start >= WINDOW_MILLIS && windowStart.compareAndSet(start, now)) {
            long dropped = suppressed.getAndSet(0);
            inWindow.set(0);
            if (dropped > 0) {
                logger.log(System.Logger.Level.WARNING, prefix + ": " + dropped + " further guest errors were not logged");
            }
        }
        if (inWindow.incrementAndGet() <= BURST) {
            logger.log(System.Logger.Level.WARNING, prefix + ": guest error: " + message);
        } else {
            suppressed.incrementAndGet();
        }
    }

    /** Counts a guest error and logs it, formatted, unless the rate limit is reached. */
    public void report(String format, Object... args) {
        if (inWindow.get() >= BURST && System.currentTimeMillis() - windowStart.get() < WINDOW_MILLIS) {
            total.incrementAndGet();
            suppressed.incrementAndGet();
            return;
        }
        report(String.format(format, args));
    }

    /** All guest errors reported so far. */
    public long count() {
        return total.get();
    }
}
