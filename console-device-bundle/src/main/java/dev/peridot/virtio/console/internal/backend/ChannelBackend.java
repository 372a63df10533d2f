package dev.peridot.virtio.console.internal.backend;

import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A backend over an output channel and an optional input channel that are always there: a file
 * (output file, optional input file read once, like QEMU's file chardev with input-path) or the
 * JVM's standard streams. The host side is always connected. One writer thread, and one reader
 * thread if there is input (a platform thread: file and console reads pin a virtual thread).
 */
public final class ChannelBackend implements ConsoleBackend {

    private static final System.Logger LOG = System.getLogger(ChannelBackend.class.getName());

    private final String type;
    private final String description;
    private final WritableByteChannel output;
    private final ReadableByteChannel input;
    private final boolean closeChannels;
    private volatile String state = "connected";
    private volatile boolean closing;
    private volatile long flushDeadline;
    private volatile boolean inputDone;
    private volatile boolean started;
    private final CompletableFuture<Void> stopped = new CompletableFuture<>();

    private ChannelBackend(String type, String description, WritableByteChannel output, ReadableByteChannel input,
                           boolean closeChannels) {
        this.type = type;
        this.description = description;
        this.output = output;
        this.input = input;
        this.closeChannels = closeChannels;
    }

    /** Output to {@code outputPath} (truncated unless {@code append}); input from {@code inputPath} once, if not empty. */
    public static ChannelBackend file(String outputPath, String inputPath, boolean append) {
        try {
            FileChannel out = FileChannel.open(Path.of(outputPath), StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    append ? StandardOpenOption.APPEND : StandardOpenOption.TRUNCATE_EXISTING);
            FileChannel in = null;
            if (!inputPath.isBlank()) {
                try {
                    in = FileChannel.open(Path.of(inputPath), StandardOpenOption.READ);
                } catch (IOException e) {
                    out.close();
                    throw e;
                }
            }
            return new ChannelBackend("file", "file " + outputPath + (in != null ? " < " + inputPath : "")
                    + (append ? " (append)" : ""), out, in, true);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open " + outputPath + ": " + e.getMessage(), e);
        }
    }

    /** Standard output, and standard input if {@code withInput}. The JVM's streams are never closed. */
    public static ChannelBackend stdio(boolean withInput) {
        WritableByteChannel out = Channels.newChannel(new FileOutputStream(FileDescriptor.out));
        ReadableByteChannel in = withInput ? Channels.newChannel(new FileInputStream(FileDescriptor.in)) : null;
        return new ChannelBackend("stdio", withInput ? "stdio (stdin, stdout)" : "stdio (stdout)", out, in, false);
    }

    @Override
    public void start(PortEndpoint endpoint) {
        started = true;
        Thread.ofVirtual().name(endpoint.label() + "-" + type + "-out").start(() -> {
            try {
                Pumps.output(endpoint, output, () -> !closing || (endpoint.fromGuest().size() > 0
                        && System.nanoTime() - flushDeadline < 0));
            } catch (IOException e) {
                state = "error: " + e.getMessage();
                LOG.log(System.Logger.Level.WARNING, endpoint.label() + ": " + description + ": " + e.getMessage());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                if (closeChannels) {
                    closeQuietly(output);
                }
                if (closing && !state.startsWith("error")) {
                    state = "closed";
                }
                stopped.complete(null);
            }
        });
        if (input != null) {
            Thread.ofPlatform().daemon().name(endpoint.label() + "-" + type + "-in").start(() -> {
                try {
                    Pumps.input(endpoint, input, () -> !closing);
                } catch (IOException e) {
                    if (!closing) {
                        LOG.log(System.Logger.Level.WARNING, endpoint.label() + ": reading input: " + e.getMessage());
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                } finally {
                    inputDone = true;
                    if (closeChannels) {
                        closeQuietly(input);
                    }
                }
            });
        }
    }

    private static void closeQuietly(java.nio.channels.Channel c) {
        try {
            c.close();
        } catch (IOException e) {
            // Nothing to do.
        }
    }

    /** Whether the input (if any) has been read to its end. */
    public boolean inputDone() {
        return input == null || inputDone;
    }

    @Override
    public String type() {
        return type;
    }

    @Override
    public String description() {
        return description;
    }

    @Override
    public String state() {
        return state;
    }

    @Override
    public boolean hostConnected() {
        return !closing;
    }

    @Override
    public CompletableFuture<Void> close(long flushMillis) {
        flushDeadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(flushMillis);
        closing = true;
        if (!started) {
            if (closeChannels) {
                closeQuietly(output);
                if (input != null) {
                    closeQuietly(input);
                }
            }
            stopped.complete(null);
        }
        return stopped;
    }
}
