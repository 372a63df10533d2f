package dev.peridot.virtio.runtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.peridot.virtio.entropy.SeededSource;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real Linux guest under QEMU uses the entropy device of the running Peridot runtime: the
 * device and its vhost-user socket come from two .cfg files dropped into the runtime's deploy
 * folder, QEMU connects with {@code -device vhost-user-rng}, and the guest's SHA-256 of 64 KiB
 * read from /dev/hwrng must be a slice of the seeded stream. (entropy-device-bundle's
 * EntropyOverVhostUserIT covers the same with the back-end in-JVM, plus throughput against
 * QEMU's own device, a killed QEMU and SeaBIOS.) Skipped with a message where QEMU is absent.
 */
class RuntimeWithLinuxGuestIT {

    private static final long SEED = 424242L;
    private static final int HASH_BYTES = 64 * 1024;
    private static final Path DIST = Path.of(System.getProperty("peridot.dist", "target/peridot")).toAbsolutePath();

    @TempDir
    Path dir;

    @Test
    void linuxGuestReadsTheRuntimesEntropyDevice() throws Exception {
        String qemu = onPath("qemu-system-x86_64");
        assumeTrue(qemu != null, "qemu-system-x86_64 is not installed: the runtime test with a real Linux guest is skipped"
                + " (Debian: apt-get install qemu-system-x86 busybox-static; .ci/run does this)");
        assumeTrue(onPath("apt-get") != null, "apt-get is not available to fetch the guest kernel: skipped");
        Path repository = DIST.getParent().getParent().getParent();
        Process prepare = new ProcessBuilder("bash", repository.resolve("scripts/guest/prepare-guest.sh").toString())
                .redirectErrorStream(true).start();
        String prepared = new String(prepare.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(prepare.waitFor(600, TimeUnit.SECONDS)).isTrue();
        assertThat(prepare.exitValue()).as(prepared).isZero();
        String kernel = value(prepared, "KERNEL=");
        String initrd = value(prepared, "INITRD=");

        Path deploy = dir.resolve("deploy");
        Files.createDirectories(deploy);
        Path socket = dir.resolve("rng0.sock");
        Files.writeString(deploy.resolve("dev.peridot.virtio.entropy-rng0.cfg"),
                "name=rng0\nsource=seeded\nseed=" + SEED + "\ntransport=vhost-user\n");
        Files.writeString(deploy.resolve("dev.peridot.virtio.vhostuser-rng0.cfg"),
                "device.name=rng0\nsocket.path=" + socket + "\n");
        try (RuntimeProcess runtime = new RuntimeProcess(DIST, deploy, dir.resolve("cache"), "--batch", "-")) {
            runtime.await("Peridot Virtio ready in", 20_000);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (!Files.exists(socket) && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertThat(socket).as("the runtime's vhost-user socket").exists();

            List<String> command = new ArrayList<>(List.of(qemu, "-M", "microvm"));
            Path qboot = Path.of("/usr/share/qemu/qboot.rom");
            if (Files.exists(qboot)) {
                command.addAll(List.of("-bios", qboot.toString()));
            }
            command.addAll(List.of("-accel", "tcg", "-m", "256", "-nodefaults", "-no-user-config", "-nographic",
                    "-kernel", kernel, "-initrd", initrd,
                    "-append", "console=ttyS0 quiet tsc_early_khz=2600000 HASH_BYTES=" + HASH_BYTES + " TP_BYTES=0",
                    "-serial", "stdio", "-global", "virtio-mmio.force-legacy=false",
                    "-object", "memory-backend-memfd,id=mem,size=256M,share=on", "-machine", "memory-backend=mem",
                    "-chardev", "socket,id=vu,path=" + socket, "-device", "vhost-user-rng,chardev=vu"));
            Process guest = new ProcessBuilder(command).redirectErrorStream(true).start();
            List<String> lines = new ArrayList<>();
            try (BufferedReader out = new BufferedReader(new InputStreamReader(guest.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = out.readLine()) != null) {
                    lines.add(line);
                    if (line.startsWith("@@DONE")) {
                        break;
                    }
                }
            } finally {
                guest.destroy();
                guest.waitFor(20, TimeUnit.SECONDS);
            }
            String transcript = String.join("\n", lines);
            String hash = lines.stream().filter(l -> l.startsWith("@@SHA256 ")).map(l -> l.substring(9).trim())
                    .findFirst().orElseThrow(() -> new AssertionError("the guest printed no hash:\n" + transcript));
            long offset = findInStream(hash);
            assertThat(offset).as("the guest's SHA-256 %s is no 64 KiB slice of seed %d's stream\n%s", hash, SEED, transcript)
                    .isNotNegative();
            System.out.printf("RuntimeWithLinuxGuestIT: a Linux guest under QEMU read bytes %d..%d of the runtime's seeded"
                    + " stream through vhost-user-rng (SHA-256 %s)%n", offset, offset + HASH_BYTES, hash);
            runtime.command("virtio:status rng0");
            runtime.await("rng0 \\(entropy, vhost-user\\)", 10_000);
            runtime.closeInput();
        }
    }

    private static long findInStream(String hash) throws Exception {
        int window = 8192;
        byte[] stream = SeededSource.stream(SEED, window + HASH_BYTES);
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        for (int offset = 0; offset <= window; offset++) {
            sha.update(stream, offset, HASH_BYTES);
            if (HexFormat.of().formatHex(sha.digest()).equals(hash)) {
                return offset;
            }
        }
        return -1;
    }

    private static String value(String output, String key) {
        for (String line : output.split("\n")) {
            if (line.startsWith(key)) {
                return line.substring(key.length()).trim();
            }
        }
        throw new AssertionError("prepare-guest.sh printed no " + key + ":\n" + output);
    }

    private static String onPath(String program) {
        for (String d : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
            if (Files.isExecutable(Path.of(d, program))) {
                return Path.of(d, program).toString();
            }
        }
        return null;
    }
}
