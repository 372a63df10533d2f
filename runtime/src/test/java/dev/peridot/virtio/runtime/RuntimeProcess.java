package dev.peridot.virtio.runtime;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The runtime started as its own process from a distribution folder, with its output collected line by line. */
final class RuntimeProcess implements AutoCloseable {

    final Process process;
    final long startedNanos = System.nanoTime();
    private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
    private final List<String> all = new ArrayList<>();
    private final Writer stdin;

    RuntimeProcess(Path home, Path deploy, Path cache, String... args) throws IOException {
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow",
                "-Dperidot.launch.epoch.millis=" + System.currentTimeMillis(),
                "-jar", home.resolve("bin/peridot-launcher.jar").toString(),
                "--deploy", deploy.toString(), "--cache", cache.toString()));
        command.addAll(List.of(args));
        process = new ProcessBuilder(command).redirectErrorStream(true).start();
        stdin = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
        Thread reader = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = in.readLine()) != null) {
                    lines.add(line);
                }
            } catch (IOException ignored) {
                // The process ended.
            }
        }, "runtime-output");
        reader.setDaemon(true);
        reader.start();
    }

    /** Writes a command line to the runtime's standard input (batch mode reading "-"). */
    void command(String line) throws IOException {
        stdin.write(line + "\n");
        stdin.flush();
    }

    void closeInput() throws IOException {
        stdin.close();
    }

    /** Waits for a line matching {@code regex}; returns its match. Lines read on the way are kept in {@link #output()}. */
    Matcher await(String regex, long timeoutMillis) throws InterruptedException {
        Pattern pattern = Pattern.compile(regex);
        for (String seen : all) {
            Matcher m = pattern.matcher(seen);
            if (m.find()) {
                all.remove(seen);
                all.add("(matched) " + seen);
                return m;
            }
        }
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        while (true) {
            long left = deadline - System.nanoTime();
            String line = left > 0 ? lines.poll(left, TimeUnit.NANOSECONDS) : null;
            if (line == null) {
                throw new AssertionError("no line matching " + regex + " within " + timeoutMillis + " ms; output:\n"
                        + String.join("\n", all));
            }
            Matcher m = pattern.matcher(line);
            if (m.find()) {
                all.add("(matched) " + line);
                return m;
            }
            all.add(line);
        }
    }

    /** Waits for the process to end; returns its exit status. */
    int exit(long timeoutMillis) throws InterruptedException {
        if (!process.waitFor(timeoutMillis, TimeUnit.MILLISECONDS)) {
            throw new AssertionError("the runtime did not exit; output:\n" + output());
        }
        return process.exitValue();
    }

    /** Everything the runtime printed so far. */
    String output() throws InterruptedException {
        Thread.sleep(50);
        lines.drainTo(all);
        return String.join("\n", all);
    }

    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }
}
