package dev.peridot.virtio.shell.internal;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.felix.service.command.CommandProcessor;
import org.apache.felix.service.command.CommandSession;
import org.apache.felix.service.command.Converter;
import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleException;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;

/**
 * Batch mode of the runtime: runs Gogo commands without the interactive shell, prints each
 * command and its result, and stops the framework at the end. The launcher sets one of the
 * framework properties:
 * <ul>
 *   <li>{@value #COMMANDS}: the commands, separated by new lines or {@code ;};</li>
 *   <li>{@value #FILE}: a file of commands, or {@code -} to read them from standard input one
 *   line at a time until end of input (so a test can drive a live runtime).</li>
 * </ul>
 * Before the first command it waits until the devices named in {@value #AWAIT} are bound.
 * The exit status (0, or 1 if a command failed) goes to the system property
 * {@value #EXIT_CODE}, which the launcher returns.
 */
@Component(immediate = true)
public final class BatchRunner {

    public static final String COMMANDS = "peridot.batch.commands";
    public static final String FILE = "peridot.batch.file";
    public static final String AWAIT = "peridot.batch.await";
    public static final String EXIT_CODE = "peridot.exit.code";
    /** Printed before each command, so output can be split per command. */
    public static final String PROMPT = "peridot$ ";
    /** How long no service may come or go before batch commands start. */
    static final long QUIET_MILLIS = 250;

    private static final System.Logger LOG = System.getLogger(BatchRunner.class.getName());

    private final BundleContext context;
    private final CommandProcessor processor;
    private Thread thread;

    @Activate
    public BatchRunner(BundleContext context, @Reference CommandProcessor processor) {
        this.context = context;
        this.processor = processor;
        String commands = context.getProperty(COMMANDS);
        String file = context.getProperty(FILE);
        if (commands == null && file == null) {
            return; // Interactive mode: the Gogo shell bundle takes the console.
        }
        thread = new Thread(() -> run(commands, file), "peridot-batch");
        thread.setDaemon(true);
        thread.start();
    }

    @Deactivate
    void deactivate() {
        if (thread != null) {
            thread.interrupt();
        }
    }

    private void run(String commands, String file) {
        PrintStream out = System.out;
        int failures = 0;
        try {
            awaitStarted();
            awaitDevices(context.getProperty(AWAIT));
            CommandSession session = processor.createSession(System.in, out, System.err);
            if ("-".equals(file)) {
                BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
                String line;
                while ((line = in.readLine()) != null) {
                    failures += execute(session, line, out);
                }
            } else {
                for (String line : file != null ? Files.readAllLines(Path.of(file)) : split(commands)) {
                    failures += execute(session, line, out);
                }
            }
        } catch (IOException | RuntimeException e) {
            out.println("error: " + e);
            failures++;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
        }
        System.setProperty(EXIT_CODE, failures == 0 ? "0" : "1");
        out.flush();
        try {
            context.getBundle(0).stop();
        } catch (BundleException | IllegalStateException e) {
            LOG.log(System.Logger.Level.ERROR, "cannot stop the framework after the batch", e);
        }
    }

    private static List<String> split(String commands) {
        List<String> lines = new ArrayList<>();
        for (String line : commands.split("[\\n;]")) {
            lines.add(line);
        }
        return lines;
    }

    /** Runs one command line; returns 1 if it failed. Empty lines and # comments are skipped. */
    private static int execute(CommandSession session, String line, PrintStream out) {
        String command = line.strip();
        if (command.isEmpty() || command.startsWith("#")) {
            return 0;
        }
        out.println(PROMPT + command);
        try {
            Object result = session.execute(command);
            if (result != null) {
                CharSequence text = session.format(result, Converter.INSPECT);
                out.print(text);
                if (text.length() > 0 && text.charAt(text.length() - 1) != '\n') {
                    out.println();
                }
            }
            out.flush();
            return 0;
        } catch (Exception e) {
            out.println("error: " + (e.getMessage() != null ? e.getMessage() : e.toString()));
            out.flush();
            return 1;
        }
    }

    /**
     * Waits until the framework has reached its start level (File Install, the last bundle, has
     * started and read etc/ and the deploy folder), then until no service came or went for
     * {@value #QUIET_MILLIS} ms, so the commands see the devices of the configuration.
     */
    private void awaitStarted() throws InterruptedException {
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (context.getBundle(0).getState() != org.osgi.framework.Bundle.ACTIVE && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        java.util.concurrent.atomic.AtomicLong lastEvent = new java.util.concurrent.atomic.AtomicLong(System.nanoTime());
        org.osgi.framework.ServiceListener listener = event -> lastEvent.set(System.nanoTime());
        context.addServiceListener(listener);
        try {
            while (System.nanoTime() - lastEvent.get() < QUIET_MILLIS * 1_000_000L && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
        } finally {
            context.removeServiceListener(listener);
        }
    }

    private void awaitDevices(String names) throws InterruptedException {
        if (names == null || names.isBlank()) {
            return;
        }
        PeridotCommands helper = new PeridotCommands(context);
        for (String name : names.split(",")) {
            if (!name.isBlank()) {
                helper.awaitBound(name.strip(), 20_000);
            }
        }
    }
}
