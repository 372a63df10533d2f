package dev.peridot.virtio.entropy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.peridot.virtio.defaults.DefaultConfigOperations;
import dev.peridot.virtio.device.DeviceStatus;
import dev.peridot.virtio.transport.vhostuser.VhostUserBackend;
import dev.peridot.virtio.transport.vhostuser.VhostUserDevice;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real Linux guest (Debian's cloud kernel, busybox) under {@code qemu-system-x86_64 -M microvm
 * -accel tcg} uses our entropy device through {@code -device vhost-user-rng}, served by the
 * vhost-user back-end in this JVM. The guest reads 64 KiB from /dev/hwrng and prints its
 * SHA-256, which must equal the hash of a slice of the seeded stream: the Linux driver received
 * exactly our bytes. In the same run it measures the guest's read throughput with our back-end
 * and with QEMU's own {@code virtio-rng-device}, and the time from QEMU's start to the first read.
 * It also kills QEMU in the middle of I/O and boots again with SeaBIOS on the same back-end.
 *
 * <p>Skipped, with a message saying so, where {@code qemu-system-x86_64} is not installed.
 * Another QEMU can be chosen with the environment: {@code PERIDOT_QEMU} (the binary),
 * {@code PERIDOT_QEMU_ARGS} (extra arguments, e.g. {@code -L <its firmware directory>}) and
 * {@code PERIDOT_QBOOT} (the qboot ROM; default {@code /usr/share/qemu/qboot.rom}).
 * {@code scripts/guest/prepare-guest.sh} fetches the kernel and busybox with apt-get into
 * {@code .cache/guest}.
 */
class EntropyOverVhostUserIT {

    private static final long SEED = 20261125L;
    private static final int HASH_BYTES = 64 * 1024;
    private static final int TP_BYTES = 1024 * 1024;
    /** How far into the stream the guest's read may start: the kernel's hwrng thread takes chunks first. */
    private static final int SEARCH_WINDOW = 8192;
    private static final long BOOT_TIMEOUT_SECONDS = 90;
    private static final Pattern MARK = Pattern.compile("@@DMESG \\[\\s*(\\d+\\.\\d+)\\] MARK (\\S+)");

    private static Path kernel;
    private static Path initrd;
    private static String qemu;

    @TempDir
    Path dir;

    @BeforeAll
    static void prepareGuest() throws Exception {
        String override = System.getenv("PERIDOT_QEMU");
        qemu = override != null && !override.isBlank() ? override : findOnPath("qemu-system-x86_64");
        assumeTrue(qemu != null, "qemu-system-x86_64 is not installed: the end-to-end test with a real Linux guest "
                + "is skipped (Debian: apt-get install qemu-system-x86 busybox-static; .ci/run does this)");
        assumeTrue(findOnPath("apt-get") != null && findOnPath("dpkg-deb") != null,
                "apt-get/dpkg-deb are not available to fetch the guest kernel: the end-to-end test is skipped");
        Path repository = Path.of(System.getProperty("peridot.repository", "..")).toAbsolutePath().normalize();
        Process p = new ProcessBuilder("bash", repository.resolve("scripts/guest/prepare-guest.sh").toString())
                .redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(600, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as("prepare-guest.sh failed:\n" + output).isZero();
        for (String line : output.split("\n")) {
            if (line.startsWith("KERNEL=")) {
                kernel = Path.of(line.substring(7).trim());
            } else if (line.startsWith("INITRD=")) {
                initrd = Path.of(line.substring(7).trim());
            }
        }
        assertThat(kernel).as(output).isNotNull();
        assertThat(initrd).as(output).isNotNull();
    }

    private static String findOnPath(String program) {
        for (String d : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
            Path candidate = Path.of(d, program);
            if (Files.isExecutable(candidate)) {
                return candidate.toString();
            }
        }
        return null;
    }

    /** An entropy source that remembers where each boot started reading and when it first did. */
    static final class WatchedSeededSource implements EntropySource {
        final SeededSource stream = new SeededSource(SEED);
        volatile long firstFillNanos;

        @Override
        public void fill(byte[] buffer, int offset, int length) {
            if (firstFillNanos == 0) {
                firstFillNanos = System.nanoTime();
            }
            stream.fill(buffer, offset, length);
        }

        @Override
        public String describe() {
            return stream.describe();
        }
    }

    /** What one boot printed, with host timestamps. */
    record Boot(List<String> lines, Map<String, Long> hostNanos, Map<String, Double> guestSeconds, long startNanos,
                int exitCode, boolean finished) {

        String value(String key) {
            for (String line : lines) {
                if (line.startsWith("@@" + key + " ")) {
                    return line.substring(key.length() + 3).trim();
                }
            }
            return null;
        }

        double guestInterval(String from, String to) {
            return guestSeconds.get(to) - guestSeconds.get(from);
        }

        double hostMillisTo(String marker) {
            Long at = hostNanos.get(marker);
            return at == null ? Double.NaN : (at - startNanos) / 1e6;
        }

        String transcript() {
            return String.join("\n", lines);
        }
    }

    private List<String> qemuCommand(boolean qboot, String append, String... device) {
        List<String> cmd = new ArrayList<>(List.of(qemu, "-M", "microvm"));
        String extra = System.getenv("PERIDOT_QEMU_ARGS");
        if (extra != null && !extra.isBlank()) {
            cmd.addAll(List.of(extra.trim().split("\\s+")));
        }
        Path qbootRom = Path.of(System.getenv().getOrDefault("PERIDOT_QBOOT", "/usr/share/qemu/qboot.rom"));
        if (qboot && Files.exists(qbootRom)) {
            cmd.addAll(List.of("-bios", qbootRom.toString()));
        }
        cmd.addAll(List.of("-accel", "tcg", "-m", "256", "-nodefaults", "-no-user-config", "-nographic",
                "-kernel", kernel.toString(), "-initrd", initrd.toString(),
                // tsc_early_khz: under TCG microvm has no HPET/PM timer and a failed PIT calibration hangs the boot.
                "-append", "console=ttyS0 quiet tsc_early_khz=2600000 " + append,
                "-serial", "stdio", "-global", "virtio-mmio.force-legacy=false"));
        cmd.addAll(List.of(device));
        return cmd;
    }

    private static String[] vhostUserRng(Path socket) {
        return new String[] {"-object", "memory-backend-memfd,id=mem,size=256M,share=on", "-machine", "memory-backend=mem",
                "-chardev", "socket,id=vu,path=" + socket, "-device", "vhost-user-rng,chardev=vu"};
    }

    /**
     * Runs QEMU until the guest prints @@DONE (or {@code killAt} is seen: then QEMU is killed
     * with SIGKILL, as a crash would).
     */
    private Boot boot(List<String> command, String killAt) throws Exception {
        List<String> lines = new CopyOnWriteArrayList<>();
        Map<String, Long> hostNanos = new java.util.concurrent.ConcurrentHashMap<>();
        long start = System.nanoTime();
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    long now = System.nanoTime();
                    lines.add(line);
                    if (line.startsWith("@@")) {
                        String key = line.substring(2).split(" ", 2)[0];
                        hostNanos.putIfAbsent(key, now);
                        if (key.equals(killAt)) {
                            process.destroyForcibly();
                        }
                    }
                }
            } catch (IOException e) {
                lines.add("(reading QEMU's output failed: " + e + ")");
            }
        }, "qemu-serial");
        reader.start();
        boolean exited = process.waitFor(BOOT_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        if (!exited) {
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
        reader.join(10_000);
        Map<String, Double> guest = new LinkedHashMap<>();
        for (String line : lines) {
            Matcher m = MARK.matcher(line);
            if (m.find()) {
                guest.put(m.group(2), Double.parseDouble(m.group(1)));
            }
        }
        return new Boot(lines, hostNanos, guest, start, exited ? process.exitValue() : -1, exited && hostNanos.containsKey("DONE"));
    }

    /** Where in the seeded stream {@code hash} starts, searching from {@code from}; -1 if nowhere. */
    private static long findInStream(String hash, long from) throws Exception {
        byte[] stream = SeededSource.stream(SEED, (int) (from + SEARCH_WINDOW + HASH_BYTES));
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        for (int offset = (int) from; offset <= from + SEARCH_WINDOW; offset++) {
            sha.update(stream, offset, HASH_BYTES);
            if (HexFormat.of().formatHex(sha.digest()).equals(hash)) {
                return offset;
            }
        }
        return -1;
    }

    private static double mibPerSecond(int bytes, double seconds) {
        return bytes / seconds / (1024.0 * 1024.0);
    }

    @Test
    void linuxGuestReadsExactlyOurBytesThroughVhostUserRng() throws Exception {
        WatchedSeededSource source = new WatchedSeededSource();
        EntropyDevice device = new EntropyDevice("rng0", source);
        Path socket = dir.resolve("rng0.sock");
        List<String> figures = new ArrayList<>();
        figures.add("QEMU: " + qemuVersion());
        try (VhostUserBackend backend = VhostUserBackend.start(socket,
                new VhostUserDevice(new DefaultConfigOperations(device), device, device))) {

            // 1. Our back-end, qboot: the hash and the throughput.
            long before = source.stream.position();
            source.firstFillNanos = 0;
            Boot ours = boot(qemuCommand(true, "HASH_BYTES=" + HASH_BYTES + " TP_BYTES=" + TP_BYTES, vhostUserRng(socket)), null);
            assertThat(ours.finished()).as("guest with our back-end did not finish:\n" + ours.transcript()).isTrue();
            assertThat(ours.value("RNG_CURRENT")).isEqualTo("virtio_rng.0");
            long offset = findInStream(ours.value("SHA256"), before);
            assertThat(offset).as("the guest's SHA-256 %s is no 64 KiB slice of the seeded stream (searched %d bytes from %d)\n%s",
                    ours.value("SHA256"), SEARCH_WINDOW, before, ours.transcript()).isNotNegative();
            double oursMiBs = mibPerSecond(TP_BYTES, ours.guestInterval("TP_BEGIN", "TP_END"));
            double firstFillMs = (source.firstFillNanos - ours.startNanos()) / 1e6;
            figures.add(String.format(Locale.ROOT, "hash check (qboot): guest SHA-256 %s = seeded stream (seed %d) bytes %d..%d: OK",
                    ours.value("SHA256"), SEED, offset, offset + HASH_BYTES));
            figures.add(String.format(Locale.ROOT, "our back-end: guest read throughput %.2f MiB/s (1 MiB, guest clock)", oursMiBs));
            figures.add(String.format(Locale.ROOT, "our back-end: QEMU start -> first buffer filled (kernel hwrng thread) %.0f ms,"
                    + " -> /init's first read %.0f ms (host clock)", firstFillMs, ours.hostMillisTo("READ_BEGIN")));

            // 2. QEMU's own virtio-rng-device, same guest, same run.
            Boot builtin = boot(qemuCommand(true, "HASH_BYTES=" + HASH_BYTES + " TP_BYTES=" + TP_BYTES,
                    "-device", "virtio-rng-device"), null);
            assertThat(builtin.finished()).as("guest with QEMU's virtio-rng-device did not finish:\n" + builtin.transcript())
                    .isTrue();
            double builtinMiBs = mibPerSecond(TP_BYTES, builtin.guestInterval("TP_BEGIN", "TP_END"));
            figures.add(String.format(Locale.ROOT, "QEMU virtio-rng-device: guest read throughput %.2f MiB/s; QEMU start -> /init's "
                    + "first read %.0f ms", builtinMiBs, builtin.hostMillisTo("READ_BEGIN")));
            figures.add(String.format(Locale.ROOT, "ratio ours / QEMU built-in: %.2f", oursMiBs / builtinMiBs));

            // 3. QEMU killed (SIGKILL) in the middle of a read: the back-end cleans up and serves the next one.
            long connections = backend.connectionsAccepted();
            Boot killed = boot(qemuCommand(true, "HASH_BYTES=" + HASH_BYTES + " TP_BYTES=" + (16 * TP_BYTES),
                    vhostUserRng(socket)), "TP_BEGIN");
            assertThat(killed.hostNanos()).as(killed.transcript()).containsKey("TP_BEGIN");
            waitFor(() -> !backend.isConnected() && device.status() == 0, "the back-end to clean up after QEMU was killed");
            assertThat(backend.connectionsAccepted()).isEqualTo(connections + 1);
            figures.add("QEMU killed with SIGKILL during a 16 MiB read: connection closed, device reset (status 0): OK");

            // 4. The default firmware (SeaBIOS), which probes the virtio-mmio devices before the kernel runs.
            long seaStart = source.stream.position();
            Boot seabios = boot(qemuCommand(false, "HASH_BYTES=" + HASH_BYTES + " TP_BYTES=0", vhostUserRng(socket)), null);
            assertThat(seabios.finished()).as("guest with SeaBIOS did not finish:\n" + seabios.transcript()).isTrue();
            long seaOffset = findInStream(seabios.value("SHA256"), seaStart);
            assertThat(seaOffset).as("SeaBIOS boot: hash not found in the stream\n" + seabios.transcript()).isNotNegative();
            figures.add(String.format(Locale.ROOT, "SeaBIOS boot on the same back-end (after the kill): hash OK at stream offset %d;"
                    + " QEMU start -> /init's first read %.0f ms", seaOffset, seabios.hostMillisTo("READ_BEGIN")));
            assertThat(backend.protocolErrors()).isZero();
            assertThat(device.status() & DeviceStatus.DEVICE_NEEDS_RESET).isZero();
        }
        String report = String.join("\n", figures);
        System.out.println("\n==== vhost-user-rng end-to-end figures ====\n" + report + "\n");
        String out = System.getProperty("peridot.figures");
        if (out != null) {
            Files.writeString(Path.of(out), report + "\n");
        }
    }

    private static String qemuVersion() throws Exception {
        Process p = new ProcessBuilder(qemu, "--version").redirectErrorStream(true).start();
        String v = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).split("\n")[0];
        p.waitFor(10, TimeUnit.SECONDS);
        return v;
    }

    private static void waitFor(java.util.function.BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(20);
        }
    }
}
