package dev.peridot.virtio.console.internal;

import static dev.peridot.virtio.console.internal.ConsoleDevice.*;
import static dev.peridot.virtio.console.internal.SinglePortTest.ascii;
import static org.assertj.core.api.Assertions.assertThat;

import dev.peridot.virtio.console.BackendSpec;
import dev.peridot.virtio.console.OverflowPolicy;
import dev.peridot.virtio.console.PortInfo;
import dev.peridot.virtio.console.PortSpec;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.zip.CRC32;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Real backends: TCP (server and client, QEMU socket chardev semantics), Unix domain sockets, files. */
class BackendTest {

    private ConsoleRig rig;

    @TempDir
    Path temp;

    @AfterEach
    void close() {
        if (rig != null) {
            rig.close();
        }
    }

    static PortSpec port(int id, String name, BackendSpec backend) {
        return new PortSpec(id, name, false, backend, PortSpec.DEFAULT_TO_GUEST_BUFFER, PortSpec.DEFAULT_FROM_GUEST_BUFFER,
                OverflowPolicy.BACKPRESSURE);
    }

    static int boundPort(PortInfo info) {
        Matcher m = java.util.regex.Pattern.compile(":(\\d+)").matcher(info.backendDescription());
        assertThat(m.find()).as(info.backendDescription()).isTrue();
        return Integer.parseInt(m.group(1));
    }

    static byte[] readFully(InputStream in, int n) throws IOException {
        byte[] b = in.readNBytes(n);
        assertThat(b.length).as("bytes read before EOF").isEqualTo(n);
        return b;
    }

    private static long crc(byte[] b) {
        CRC32 c = new CRC32();
        c.update(b);
        return c.getValue();
    }

    @Test
    @DisplayName("CON-28: a real TCP client on loopback exchanges 4 MiB each way with the guest; connect/disconnect send PORT_OPEN 1/0; output written while nobody is connected reaches the next client")
    void tcpServerWithRealClient() throws Exception {
        rig = ConsoleRig.multiport(4);
        rig.device.addPort(port(1, "org.tcp", BackendSpec.Tcp.server(0)));
        PortInfo info = rig.device.port(1).orElseThrow();
        assertThat(info.backendType()).isEqualTo("tcp");
        assertThat(info.backendState()).isEqualTo("listening");
        int tcpPort = boundPort(info);
        assertThat(tcpPort).isPositive();
        rig.guest.bringUp(ConsoleGuest.LINUX_FEATURES);
        rig.guest.awaitUntil(() -> rig.device.port(1).orElseThrow().ready(), "port 1 ready");
        assertThat(rig.guest.ports.get(1).hostOpen).isFalse();
        assertThat(rig.guest.messages(1, PORT_OPEN)).isEmpty();
        rig.guest.open(1);
        int total = 4 << 20;
        Pattern toGuest = new Pattern(61);
        Pattern fromGuest = new Pattern(62);
        Pattern.Verifier verifier = toGuest.verifier();
        rig.guest.receiveSink = (p, data) -> verifier.accept(data);
        try (Socket client = new Socket("127.0.0.1", tcpPort)) {
            client.setSoTimeout(20_000);
            rig.guest.awaitUntil(() -> rig.guest.ports.get(1).hostOpen, "PORT_OPEN(1) after connect");
            assertThat(rig.device.port(1).orElseThrow().backendState()).startsWith("connected");
            AtomicReference<Throwable> failure = new AtomicReference<>();
            Thread sender = Thread.ofPlatform().start(() -> {
                try {
                    OutputStream out = client.getOutputStream();
                    for (int pos = 0; pos < total; pos += 100_000) {
                        out.write(toGuest.chunk(pos, Math.min(100_000, total - pos)));
                    }
                    out.flush();
                } catch (Throwable t) {
                    failure.set(t);
                }
            });
            byte[][] received = new byte[1][];
            Thread receiver = Thread.ofPlatform().start(() -> {
                try {
                    received[0] = readFully(client.getInputStream(), total);
                } catch (Throwable t) {
                    failure.set(t);
                }
            });
            long sent = 0;
            java.util.SplittableRandom rnd = new java.util.SplittableRandom(63);
            while ((verifier.position() < total || sent < total || receiver.isAlive()) && failure.get() == null) {
                sent = IntegrityTest.feedGuest(rig.guest, 1, sent, total, fromGuest, rnd, 32);
                rig.guest.pump();
                rig.driver.awaitInterrupt(1);
            }
            sender.join();
            receiver.join();
            assertThat(failure.get()).isNull();
            assertThat(verifier.position()).isEqualTo(total);
            assertThat(crc(received[0])).isEqualTo(crc(fromGuest.chunk(0, total)));
        }
        rig.guest.awaitUntil(() -> !rig.guest.ports.get(1).hostOpen, "PORT_OPEN(0) after disconnect");
        assertThat(rig.guest.messages(1, PORT_OPEN)).extracting(ConsoleGuest.Message::value).containsExactly(1, 0);
        rig.guest.awaitUntil(() -> rig.device.port(1).orElseThrow().backendState().equals("listening"), "listening again");
        rig.guest.write(1, ascii("while nobody listens"));
        rig.guest.awaitUntil(() -> rig.device.port(1).orElseThrow().bufferedFromGuest() == 20, "buffered");
        try (Socket again = new Socket("127.0.0.1", tcpPort)) {
            again.setSoTimeout(10_000);
            assertThat(readFully(again.getInputStream(), 20)).isEqualTo(ascii("while nobody listens"));
            rig.guest.awaitUntil(() -> rig.guest.ports.get(1).hostOpen, "PORT_OPEN(1) again");
        }
        // The counter moves after the socket write returns, which can be after the client has read the bytes.
        rig.guest.awaitUntil(() -> rig.device.port(1).orElseThrow().bytesToBackend() == total + 20, "all bytes counted");
        PortInfo after = rig.device.port(1).orElseThrow();
        assertThat(after.droppedBytes()).isZero();
    }

    @Test
    @DisplayName("port 0 switched to a TCP server at run time (port configuration with id 0): nothing buffered is lost; read() shows recent output")
    void port0ToTcp() throws Exception {
        rig = ConsoleRig.single();
        rig.guest.bringUp(SinglePortTest.SINGLE);
        rig.guest.write(0, ascii("before "));
        rig.guest.awaitUntil(() -> rig.device.port(0).orElseThrow().bufferedFromGuest() == 7, "buffered in memory");
        rig.device.addPort(port(0, "", BackendSpec.Tcp.server(0)).withConsole(true));
        int tcpPort = boundPort(rig.device.port(0).orElseThrow());
        try (Socket client = new Socket("127.0.0.1", tcpPort)) {
            client.setSoTimeout(10_000);
            rig.guest.write(0, ascii("after"));
            assertThat(readFully(client.getInputStream(), 12)).isEqualTo(ascii("before after"));
            client.getOutputStream().write(ascii("typed"));
            rig.guest.awaitUntil(() -> rig.guest.ports.get(0).receivedTotal == 5, "input from the client");
            assertThat(rig.guest.received(0)).isEqualTo(ascii("typed"));
            rig.guest.awaitUntil(() -> rig.device.port(0).orElseThrow().bytesToBackend() == 12, "passed on");
            assertThat(rig.device.read(0, 100)).isEqualTo(ascii("before after")); // the recent-output tap
        }
        rig.device.removePort(0); // back to the console's own port 0 (memory)
        assertThat(rig.device.port(0).orElseThrow().backendType()).isEqualTo("memory");
    }

    @Test
    @DisplayName("TCP client with reconnect: connects to a host server, reconnects after the server drops it, nothing written meanwhile is lost")
    void tcpClientReconnect() throws Exception {
        try (ServerSocket server = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            server.setSoTimeout(10_000);
            rig = ConsoleRig.multiport(2);
            rig.device.addPort(port(1, "org.client", BackendSpec.Tcp.client(server.getLocalPort(), 50)));
            rig.guest.bringUp(ConsoleGuest.LINUX_FEATURES);
            try (Socket first = server.accept()) {
                first.setSoTimeout(10_000);
                rig.guest.awaitUntil(() -> rig.guest.ports.containsKey(1) && rig.guest.ports.get(1).hostOpen, "connected");
                rig.guest.write(1, ascii("one"));
                assertThat(readFully(first.getInputStream(), 3)).isEqualTo(ascii("one"));
            }
            rig.guest.awaitUntil(() -> !rig.guest.ports.get(1).hostOpen, "PORT_OPEN(0)");
            rig.guest.write(1, ascii("two"));
            try (Socket second = server.accept()) {
                second.setSoTimeout(10_000);
                assertThat(readFully(second.getInputStream(), 3)).isEqualTo(ascii("two"));
                rig.guest.awaitUntil(() -> rig.guest.ports.get(1).hostOpen, "PORT_OPEN(1) again");
            }
            assertThat(rig.device.port(1).orElseThrow().backendDescription()).contains("client").contains("reconnect");
        }
    }

    @Test
    @DisplayName("TCP server with wait: the port is added to the guest only once the first client has connected")
    void tcpServerWait() throws Exception {
        rig = ConsoleRig.multiport(4);
        rig.device.addPort(port(2, "org.wait", new BackendSpec.Tcp("127.0.0.1", 0, true, true, 0)));
        rig.guest.bringUp(ConsoleGuest.LINUX_FEATURES);
        rig.guest.awaitPorts(0);
        rig.guest.pumpFor(50);
        assertThat(rig.guest.ports).doesNotContainKey(2);
        assertThat(rig.device.port(2).orElseThrow().announced()).isFalse();
        try (Socket client = new Socket("127.0.0.1", boundPort(rig.device.port(2).orElseThrow()))) {
            rig.guest.awaitUntil(() -> rig.guest.ports.containsKey(2) && rig.guest.ports.get(2).hostOpen, "added after connect");
        }
    }

    @Test
    @DisplayName("removing a port flushes what the guest wrote to the connected client, then closes the connection")
    void removeFlushes() throws Exception {
        rig = ConsoleRig.multiport(2);
        rig.device.addPort(port(1, "org.flush", BackendSpec.Tcp.server(0)));
        rig.guest.bringUp(ConsoleGuest.LINUX_FEATURES);
        try (Socket client = new Socket("127.0.0.1", boundPort(rig.device.port(1).orElseThrow()))) {
            client.setSoTimeout(10_000);
            rig.guest.awaitUntil(() -> rig.guest.ports.containsKey(1) && rig.guest.ports.get(1).hostOpen, "connected");
            byte[] data = new Pattern(71).chunk(0, 200_000);
            rig.guest.write(1, data);
            rig.guest.awaitUntil(() -> rig.device.port(1).orElseThrow().bytesFromGuest() == data.length, "taken");
            rig.device.removePort(1);
            rig.guest.awaitUntil(() -> !rig.guest.ports.containsKey(1), "PORT_REMOVE");
            assertThat(client.getInputStream().readAllBytes()).isEqualTo(data);
        }
    }

    @Test
    @DisplayName("Unix domain socket server: a client exchanges data with the guest; the socket file goes away with the port")
    void unixServer() throws Exception {
        Path socket = temp.resolve("console.sock");
        rig = ConsoleRig.multiport(2);
        rig.device.addPort(port(1, "org.unix", new BackendSpec.Unix(socket.toString(), true, false, 0)));
        rig.guest.bringUp(ConsoleGuest.LINUX_FEATURES);
        rig.guest.awaitPorts(0, 1);
        rig.guest.open(1);
        try (SocketChannel client = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            client.connect(UnixDomainSocketAddress.of(socket));
            rig.guest.awaitUntil(() -> rig.guest.ports.get(1).hostOpen, "connected");
            client.write(ByteBuffer.wrap(ascii("ping")));
            rig.guest.awaitUntil(() -> rig.guest.ports.get(1).receivedTotal == 4, "ping");
            assertThat(rig.guest.received(1)).isEqualTo(ascii("ping"));
            rig.guest.write(1, ascii("pong"));
            ByteBuffer reply = ByteBuffer.allocate(4);
            while (reply.hasRemaining()) {
                assertThat(client.read(reply)).isNotNegative();
            }
            assertThat(reply.array()).isEqualTo(ascii("pong"));
        }
        rig.device.removePort(1);
        rig.guest.awaitUntil(() -> !Files.exists(socket), "socket file removed");
    }

    @Test
    @DisplayName("file backend: guest output goes to the output file, the input file is sent to the guest once")
    void fileBackend() throws Exception {
        Path output = temp.resolve("out.log");
        Path input = temp.resolve("in.txt");
        Files.write(input, ascii("from a file"));
        rig = new ConsoleRig(ConsoleOptions.defaults("console0").withPort0(
                port(0, "", new BackendSpec.File(output.toString(), input.toString(), false)).withConsole(true)));
        rig.guest.bringUp(SinglePortTest.SINGLE);
        rig.guest.awaitUntil(() -> rig.guest.ports.get(0).receivedTotal == 11, "input file");
        assertThat(rig.guest.received(0)).isEqualTo(ascii("from a file"));
        byte[] data = new Pattern(81).chunk(0, 300_000);
        rig.guest.write(0, data);
        rig.guest.awaitUntil(() -> rig.device.port(0).orElseThrow().bytesToBackend() == data.length, "written");
        assertThat(Files.readAllBytes(output)).isEqualTo(data);
        assertThat(rig.device.port(0).orElseThrow().backendState()).isEqualTo("connected");
    }
    @Test
    @DisplayName("stdio: a child JVM's standard input reaches the guest and the guest's output its standard output, complete and in order")
    void stdioBackendInAChildProcess() throws Exception {
        String javaLauncher = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String classPath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<String> command = new ArrayList<>(List.of(javaLauncher, "-cp", classPath));
        String logging = System.getProperty("java.util.logging.config.file");
        if (logging != null) {
            command.add("-Djava.util.logging.config.file=" + logging);
        }
        command.add(StdioEchoGuest.class.getName());
        Path errors = temp.resolve("child.err");
        Process child = new ProcessBuilder(command).redirectError(errors.toFile()).start();
        ByteArrayOutputStream sent = new ByteArrayOutputStream();
        for (int line = 0; sent.size() < 256 * 1024; line++) {
            sent.writeBytes(ascii(String.format("line %06d: the quick brown fox jumps over the lazy dog%n", line)));
        }
        sent.writeBytes(StdioEchoGuest.END);
        CompletableFuture<byte[]> output = CompletableFuture.supplyAsync(() -> {
            try {
                return child.getInputStream().readAllBytes();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
        try (OutputStream in = child.getOutputStream()) {
            byte[] all = sent.toByteArray();
            for (int pos = 0; pos < all.length; pos += 10_000) { // in pieces, as a terminal or a pipe delivers them
                in.write(all, pos, Math.min(10_000, all.length - pos));
                in.flush();
            }
        }
        boolean exited = child.waitFor(60, TimeUnit.SECONDS);
        if (!exited) {
            child.destroyForcibly();
        }
        assertThat(exited).as("the child exits; its standard error: %s", Files.readString(errors)).isTrue();
        assertThat(child.exitValue()).as("exit code; standard error: %s", Files.readString(errors)).isZero();
        byte[] expected = sent.toString(StandardCharsets.US_ASCII).toUpperCase(Locale.ROOT)
                .getBytes(StandardCharsets.US_ASCII);
        byte[] got = output.get(10, TimeUnit.SECONDS);
        assertThat(got.length).isEqualTo(expected.length);
        assertThat(got).isEqualTo(expected);
    }
}
