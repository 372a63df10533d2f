package dev.peridot.virtio.fuzz.support;

import java.util.ArrayList;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * Records every SEVERE log record of the project's code (System.Logger ERROR maps to SEVERE):
 * "device code failed", "unexpected error in worker pass", "connection failed" and the like are
 * exceptions that the core or a transport caught, which means device or transport code threw on
 * a driver's input. The core contains them (DEVICE_NEEDS_RESET), but for the fuzzer they are
 * bugs: the oracle fails on them unless a target provoked one on purpose.
 */
public final class SevereLog extends Handler {

    private static final SevereLog INSTANCE = new SevereLog();
    /** Held strongly: JUL forgets loggers nobody references, and the handler with them. */
    private static final Logger PROJECT = Logger.getLogger("dev.peridot");

    static {
        // The project's records come here only; this handler prints the ones that matter (not the
        // failures a target injects into its own test device, which would flood the fuzzing log).
        PROJECT.setUseParentHandlers(false);
        PROJECT.addHandler(INSTANCE);
    }

    private final List<LogRecord> records = new ArrayList<>();

    private SevereLog() {
        setLevel(Level.SEVERE);
    }

    /** Starts recording (idempotent). */
    public static void install() {
        // The static initializer did it.
    }

    @Override
    public synchronized void publish(LogRecord record) {
        if (record.getLevel().intValue() < Level.SEVERE.intValue()) {
            return;
        }
        if (records.size() < 100) {
            records.add(record);
        }
        if (!isInjected(record)) {
            System.err.println("SEVERE " + record.getLoggerName() + ": " + record.getMessage()
                    + (record.getThrown() == null ? "" : " (" + record.getThrown() + ")"));
        }
    }

    /** Forgets what was recorded. */
    public static void clear() {
        synchronized (INSTANCE) {
            INSTANCE.records.clear();
        }
    }

    /** The records since the last {@link #clear()}. */
    public static List<LogRecord> drain() {
        synchronized (INSTANCE) {
            List<LogRecord> copy = new ArrayList<>(INSTANCE.records);
            INSTANCE.records.clear();
            return copy;
        }
    }

    /** The message of failures a target injects into its own test device on purpose. */
    public static final String INJECTED = "injected device failure";

    /**
     * Fails with a finding if anything severe was logged, naming the first record and its
     * exception. Records caused by a failure a target injected on purpose ({@link #INJECTED})
     * are expected and ignored.
     */
    public static void checkNone(String when) {
        List<LogRecord> list = drain();
        list.removeIf(SevereLog::isInjected);
        if (!list.isEmpty()) {
            LogRecord r = list.get(0);
            throw new Finding(when + ": " + list.size() + " severe log record(s), first: " + r.getLoggerName() + ": "
                    + r.getMessage(), r.getThrown());
        }
    }

    private static boolean isInjected(LogRecord r) {
        return r.getThrown() != null && String.valueOf(r.getThrown().getMessage()).startsWith(INJECTED);
    }

    @Override
    public void flush() {
    }

    @Override
    public void close() {
    }
}
