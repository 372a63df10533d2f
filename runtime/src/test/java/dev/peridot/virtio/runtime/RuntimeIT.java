package dev.peridot.virtio.runtime;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.regex.Matcher;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The runtime as a user starts it: the distribution in runtime/target/peridot, batch mode, hot
 * deploy through the deploy folder, and the demo guest's echo over a real TCP connection. The
 * start-up and hot-deploy times are printed (for the README), never asserted.
 */
class RuntimeIT {

    private static final Path DIST = Path.of(System.getProperty("peridot.dist", "target/peridot")).toAbsolutePath();

    @TempDir
    Path dir;

    private RuntimeProcess start(Path home, String... args) throws IOException {
        return new RuntimeProcess(home, dir.resolve("deploy"), dir.resolve("cache-" + System.nanoTime()), args);
    }

    @Test
    void batchModeRunsEachCommandAndExitsWithItsStatus() throws Exception {
        try (RuntimeProcess runtime = start(DIST, "--await", "console0", "-c", String.join(";",
                "virtio:list", "virtio:status console0", "virtio:features console0", "virtio:queues console0",
                "virtio:config console0", "virtio:interrupts", "mmio:regs 0", "mmio:read 0 0x008",
                "console:ports", "console:send 0 hello", "console:resize 100 30", "virtio:config console0",
                "peridot:uptime"))) {
            runtime.await("Peridot Virtio ready in (\\d+) ms", 20_000);
            runtime.await("console0 port 0: tcp server 127\\.0\\.0\\.1:\\d+ .*try: nc", 5_000);
            runtime.await("^peridot\\$ virtio:list", 10_000);
            runtime.await("^0\\s+console0\\s+console\\s+mmio\\s+0x0f\\s+DRIVER_OK", 5_000);
            runtime.await("● DRIVER_OK\\s+0x04", 5_000);
            runtime.await("○ DEVICE_NEEDS_RESET", 5_000);
            runtime.await("^0\\s+VIRTIO_CONSOLE_F_SIZE\\s+yes\\s+yes", 5_000);
            runtime.await("^32\\s+VIRTIO_F_VERSION_1\\s+yes\\s+yes", 5_000);
            runtime.await("^0\\s+256\\s+64\\s+yes\\s+0x", 5_000);
            runtime.await("cols\\s+80", 5_000);
            runtime.await("^0\\s+console0\\s+5\\s+(low|high)", 5_000);
            runtime.await("0x070 Status\\s+0x0000000f", 5_000);
            runtime.await("DeviceID \\(width 4\\) = 0x3 \\(3\\)", 5_000);
            runtime.await("^\\s+0\\s+-\\s+yes\\s+tcp server 127\\.0\\.0\\.1", 5_000);
            runtime.await("console0 port 0: 6 of 6 bytes accepted", 5_000);
            runtime.await("console0 port 0: 100x30", 5_000);
            runtime.await("cols\\s+100", 5_000);
            runtime.await("^up \\d+ ms; ready \\d+ ms after launch", 5_000);
            assertThat(runtime.exit(20_000)).isZero();
        }
        try (RuntimeProcess failing = start(DIST, "-c", "virtio:status nosuchdevice")) {
            failing.await("error: no device named 'nosuchdevice'", 20_000);
            assertThat(failing.exit(20_000)).isEqualTo(1);
        }
    }

    @Test
    void demoGuestEchoesWhatArrivesOnTheConsolesTcpPort() throws Exception {
        try (RuntimeProcess runtime = start(DIST)) {
            Matcher endpoint = runtime.await("console0 port 0: tcp server 127\\.0\\.0\\.1:(\\d+)", 20_000);
            runtime.await("Demo guest \\(the driver test kit acting as the guest", 5_000);
            try (Socket socket = new Socket("127.0.0.1", Integer.parseInt(endpoint.group(1)))) {
                socket.setSoTimeout(10_000);
                OutputStream out = socket.getOutputStream();
                InputStream in = socket.getInputStream();
                byte[] message = "ping through the device\n".getBytes(StandardCharsets.US_ASCII);
                out.write(message);
                out.flush();
                byte[] echo = in.readNBytes(message.length);
                assertThat(new String(echo, StandardCharsets.US_ASCII)).isEqualTo("ping through the device\n");
            }
        }
    }

    @Test
    void deviceBundlesAndConfigurationsAreHotDeployedAndUndeployed() throws Exception {
        // A private copy of the distribution without the entropy bundle, which is then hot-deployed.
        Path home = dir.resolve("home");
        copy(DIST, home);
        Path entropyJar;
        try (Stream<Path> jars = Files.list(home.resolve("bundles/3"))) {
            entropyJar = jars.filter(p -> p.getFileName().toString().startsWith("entropy-device-bundle")).findFirst()
                    .orElseThrow();
        }
        Path parked = dir.resolve(entropyJar.getFileName());
        Files.move(entropyJar, parked);
        Path deploy = dir.resolve("deploy");
        Files.createDirectories(deploy);
        try (RuntimeProcess runtime = start(home, "--await", "console0", "--batch", "-")) {
            runtime.await("Peridot Virtio ready in", 20_000);

            // A device configuration: a second console. Timed from the file being written to the
            // runtime saying the device is bound (it answers the command at once when it is).
            long written = System.nanoTime();
            write(deploy.resolve("dev.peridot.virtio.console-hot1.cfg"), "name=hot1\nmax.nr.ports=2\n");
            runtime.command("peridot:await hot1 10000");
            runtime.await("hot1 bound after (\\d+) ms", 15_000);
            long configMillis = (System.nanoTime() - written) / 1_000_000;
            runtime.command("virtio:list");
            runtime.await("^\\d+\\s+hot1\\s+console\\s+mmio", 5_000);

            // A port configuration for it: the port appears, and goes away with the file.
            write(deploy.resolve("dev.peridot.virtio.console.port-p1.cfg"),
                    "console.target=(virtio.device.name=hot1)\nid=1\nname=org.hot.one\n");
            Thread.sleep(1000);
            runtime.command("console:ports");
            runtime.await("^\\s+1\\s+org\\.hot\\.one", 5_000);
            Files.delete(deploy.resolve("dev.peridot.virtio.console.port-p1.cfg"));
            Thread.sleep(1000);
            runtime.command("console:ports");
            runtime.await("^hot1: 2 port\\(s\\) max", 5_000);
            Files.delete(deploy.resolve("dev.peridot.virtio.console-hot1.cfg"));
            runtime.command("peridot:awaitgone hot1 10000");
            runtime.await("hot1 gone after \\d+ ms", 15_000);

            // A device bundle: its configuration first (nothing happens), then the jar.
            write(deploy.resolve("dev.peridot.virtio.entropy-rng1.cfg"), "name=rng1\nsource=seeded\nseed=7\ntransport=mmio\n");
            Thread.sleep(300);
            written = System.nanoTime();
            Path jarTmp = deploy.resolve(parked.getFileName() + ".part");
            Files.copy(parked, jarTmp);
            Files.move(jarTmp, deploy.resolve(parked.getFileName()), StandardCopyOption.ATOMIC_MOVE);
            runtime.command("peridot:await rng1 10000");
            runtime.await("rng1 bound after (\\d+) ms", 15_000);
            long bundleMillis = (System.nanoTime() - written) / 1_000_000;
            runtime.command("virtio:list");
            runtime.await("^\\d+\\s+rng1\\s+entropy\\s+mmio", 5_000);
            Files.delete(deploy.resolve(parked.getFileName()));
            runtime.command("peridot:awaitgone rng1 10000");
            runtime.await("rng1 gone after \\d+ ms", 15_000);
            runtime.closeInput();
            assertThat(runtime.exit(20_000)).isZero();
            System.out.printf("RuntimeIT: hot deploy, file written to device bound: console .cfg %d ms, device bundle jar"
                    + " %d ms (File Install polls every 100 ms)%n", configMillis, bundleMillis);
        }
    }

    @Test
    void startUpTime() throws Exception {
        long start = System.nanoTime();
        try (RuntimeProcess runtime = start(DIST, "--await", "console0", "-c", "peridot:uptime")) {
            Matcher ready = runtime.await("Peridot Virtio ready in (\\d+) ms", 20_000);
            long seen = (System.nanoTime() - start) / 1_000_000;
            assertThat(runtime.exit(20_000)).isZero();
            long total = (System.nanoTime() - start) / 1_000_000;
            System.out.printf("RuntimeIT: start-up to ready with console0 bound: %s ms reported, %d ms seen by the caller;"
                    + " whole batch run including shutdown %d ms%n", ready.group(1), seen, total);
        }
    }

    private static void write(Path file, String content) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.writeString(tmp, content);
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE);
    }

    private static void copy(Path from, Path to) throws IOException {
        try (Stream<Path> files = Files.walk(from)) {
            for (Path p : files.sorted(Comparator.naturalOrder()).toList()) {
                Path target = to.resolve(from.relativize(p).toString());
                if (p.getFileName().toString().equals("cache") && Files.isDirectory(p)) {
                    continue;
                }
                if (Files.isDirectory(p)) {
                    Files.createDirectories(target);
                } else if (!p.toString().contains("/cache/")) {
                    Files.copy(p, target);
                }
            }
        }
    }
}
