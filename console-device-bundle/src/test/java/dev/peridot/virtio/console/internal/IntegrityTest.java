package dev.peridot.virtio.console.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.peridot.virtio.console.OverflowPolicy;
import dev.peridot.virtio.console.PortInfo;
import dev.peridot.virtio.console.PortSpec;
import dev.peridot.virtio.device.DeviceStatus;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * Nothing lost, duplicated or reordered: 64 MiB each way at once through port 0 with random
 * chunk and buffer sizes, while the host side stalls at random moments (the guest's buffers
 * then wait in the ring: back-pressure). And the same on a multiport port while other ports
 * are hot-plugged and unplugged.
 */
class IntegrityTest {

    static final long MIB = 1L << 20;

    private ConsoleRig rig;

    @AfterEach
    void close() {
        if (rig != null) {
            rig.close();
        }
    }

    /** The host side of one port: a reader with random stalls (G->H) and a writer with random stalls (H->G). */
    static final class HostEnds {
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final AtomicBoolean stop = new AtomicBoolean();
        final Pattern.Verifier fromGuest;
        final Thread reader;
        final Thread writer;
        volatile long stalls;

        HostEnds(ConsoleDevice device, int port, long total, Pattern out, Pattern in, long seed) {
            fromGuest = out.verifier();
            reader = Thread.ofPlatform().name("host-reader-" + port).start(() -> {
                SplittableRandom rnd = new SplittableRandom(seed);
                byte[] buffer = new byte[128 * 1024];
                try {
                    while (fromGuest.position() < total && !stop.get()) {
                        int n = device.read(port, buffer, 0, 1 + rnd.nextInt(buffer.length));
                        if (n > 0) {
                            fromGuest.accept(buffer, 0, n);
                        } else {
                            LockSupport.parkNanos(20_000);
                        }
                        if (rnd.nextInt(200) == 0) {
                            stalls++;
                            TimeUnit.MICROSECONDS.sleep(500 + rnd.nextInt(4000)); // the backend stalls
                        }
                    }
                } catch (Throwable t) {
                    failure.compareAndSet(null, t);
                }
            });
            writer = Thread.ofPlatform().name("host-writer-" + port).start(() -> {
                SplittableRandom rnd = new SplittableRandom(seed + 1);
                byte[] chunk = new byte[64 * 1024];
                long position = 0;
                try {
                    while (position < total && !stop.get()) {
                        int len = (int) Math.min(total - position, 1 + rnd.nextInt(chunk.length));
                        in.fill(chunk, 0, len, position);
                        int off = 0;
                        while (off < len && !stop.get()) {
                            off += device.send(port, chunk, off, len - off);
                            if (off < len) {
                                LockSupport.parkNanos(50_000); // buffer full: the guest reads slower
                            }
                        }
                        position += len;
                        if (rnd.nextInt(200) == 0) {
                            stalls++;
                            TimeUnit.MICROSECONDS.sleep(500 + rnd.nextInt(4000));
                        }
                    }
                } catch (Throwable t) {
                    failure.compareAndSet(null, t);
                }
            });
        }

        void finish() throws InterruptedException {
            stop.set(true);
            reader.join(5000);
            writer.join(5000);
        }
    }

    /** Guest side of one port: queues random-size transmit buffers while fewer than {@code depth} are in flight. */
    static long feedGuest(ConsoleGuest guest, int port, long position, long total, Pattern out, SplittableRandom rnd, int depth) {
        ConsoleGuest.GuestPort p = guest.ports.get(port);
        while (position < total && p.txInFlight < depth) {
            int len = (int) Math.min(total - position, 1 + rnd.nextInt(64 * 1024));
            guest.write(port, out.chunk(position, len));
            position += len;
        }
        return position;
    }

    @Test
    @DisplayName("64 MiB guest->host and 64 MiB host->guest at once on port 0, random chunk sizes, random backend stalls: byte-exact")
    void port0Integrity64MiB() throws Exception {
        rig = ConsoleRig.single();
        long total = 64 * MIB;
        Pattern out = new Pattern(11);
        Pattern in = new Pattern(12);
        Pattern.Verifier toGuest = in.verifier();
        SplittableRandom rnd = new SplittableRandom(13);
        rig.guest.receiveSink = (port, data) -> toGuest.accept(data);
        rig.guest.receiveSize = () -> 1 + rnd.nextInt(64 * 1024);
        rig.guest.bringUp(SinglePortTest.SINGLE, 256);
        HostEnds host = new HostEnds(rig.device, 0, total, out, in, 14);
        long sent = 0;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        try {
            while (host.fromGuest.position() < total || toGuest.position() < total) {
                sent = feedGuest(rig.guest, 0, sent, total, out, rnd, 64);
                rig.guest.pump();
                if (host.failure.get() != null || System.nanoTime() > deadline) {
                    break;
                }
                rig.driver.awaitInterrupt(1);
            }
        } finally {
            host.finish();
        }
        if (host.failure.get() != null) {
            throw new AssertionError("host side failed", host.failure.get());
        }
        assertThat(host.fromGuest.position()).isEqualTo(total);
        assertThat(toGuest.position()).isEqualTo(total);
        PortInfo info = rig.device.port(0).orElseThrow();
        assertThat(info.bytesFromGuest()).isEqualTo(total);
        assertThat(info.bytesToGuest()).isEqualTo(total);
        assertThat(info.droppedBytes()).isZero();
        assertThat(host.stalls).isPositive();
        assertThat(rig.driver.status()).isEqualTo(0x0F);
    }

    @Test
    @DisplayName("multiport: 16 MiB each way on port 1 while ports 2 and 3 are hot-plugged, unplugged and resized: byte-exact, protocol invariants hold")
    void hotPlugWhileDataFlows() throws Exception {
        rig = new ConsoleRig(ConsoleOptions.multiport("console0", 4));
        rig.device.addPort(PortSpec.memory(1, "org.data", false));
        long total = 16 * MIB;
        Pattern out = new Pattern(21);
        Pattern in = new Pattern(22);
        Pattern.Verifier toGuest = in.verifier();
        SplittableRandom rnd = new SplittableRandom(23);
        rig.guest.receiveSink = (port, data) -> {
            if (port == 1) {
                toGuest.accept(data);
            }
        };
        rig.guest.receiveSize = () -> 1 + rnd.nextInt(16 * 1024);
        rig.guest.bringUp(ConsoleGuest.LINUX_FEATURES, 128);
        rig.guest.awaitUntil(() -> rig.guest.ports.containsKey(1) && rig.guest.ports.get(1).hostOpen, "port 1");
        rig.guest.open(1);
        HostEnds host = new HostEnds(rig.device, 1, total, out, in, 24);
        AtomicBoolean plugging = new AtomicBoolean(true);
        AtomicReference<Throwable> plugFailure = new AtomicReference<>();
        Thread plugger = Thread.ofPlatform().name("plugger").start(() -> {
            SplittableRandom r = new SplittableRandom(25);
            int cycles = 0;
            try {
                while (plugging.get()) {
                    int id = 2 + r.nextInt(2);
                    if (rig.device.port(id).isPresent()) {
                        rig.device.removePort(id);
                    } else {
                        rig.device.addPort(PortSpec.memory(id, "hot" + id + "." + cycles, id == 3));
                    }
                    rig.device.resize(1, 80 + r.nextInt(100), 25 + r.nextInt(40));
                    cycles++;
                    TimeUnit.MICROSECONDS.sleep(200 + r.nextInt(3000));
                }
            } catch (Throwable t) {
                plugFailure.set(t);
            }
        });
        long sent = 0;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        try {
            while (host.fromGuest.position() < total || toGuest.position() < total) {
                sent = feedGuest(rig.guest, 1, sent, total, out, rnd, 32);
                ConsoleGuest.GuestPort p2 = rig.guest.ports.get(2);
                if (p2 != null && p2.hostOpen && rnd.nextInt(20) == 0) {
                    rig.guest.write(2, new byte[1 + rnd.nextInt(100)]); // traffic on a port that may go away
                }
                rig.guest.pump();
                if (host.failure.get() != null || plugFailure.get() != null || System.nanoTime() > deadline) {
                    break;
                }
                rig.driver.awaitInterrupt(1);
            }
        } finally {
            plugging.set(false);
            plugger.join(5000);
            host.finish();
        }
        if (host.failure.get() != null) {
            throw new AssertionError("host side failed", host.failure.get());
        }
        if (plugFailure.get() != null) {
            throw new AssertionError("hot-plug failed", plugFailure.get());
        }
        assertThat(host.fromGuest.position()).isEqualTo(total);
        assertThat(toGuest.position()).isEqualTo(total);
        rig.guest.pumpFor(50);
        MultiportHandshakeTest.assertLogInvariants(rig.guest.log, 4);
        assertThat(rig.guest.messages(ConsoleDevice.DEVICE_ADD).size()).isGreaterThan(5);
        assertThat(rig.guest.messages(ConsoleDevice.DEVICE_REMOVE).size()).isGreaterThan(3);
        assertThat(rig.driver.status() & DeviceStatus.DEVICE_NEEDS_RESET).isZero();
    }

    @Test
    @DisplayName("HD-47: the guest floods a port whose backend takes nothing: bounded memory, buffers wait in the ring, the vCPU never blocks, other traffic flows")
    void hd47FloodWithBackPressure() {
        rig = new ConsoleRig(ConsoleOptions.defaults("console0").withPort0(PortSpec.memory(0, "", true).withBuffers(4096, 16 * 1024)));
        rig.guest.bringUp(SinglePortTest.SINGLE, 256);
        long longestNotify = 0;
        for (int i = 0; i < 200; i++) {
            long t0 = System.nanoTime();
            rig.guest.write(0, new byte[1024]);
            longestNotify = Math.max(longestNotify, System.nanoTime() - t0);
        }
        rig.guest.pumpFor(50);
        PortInfo info = rig.device.port(0).orElseThrow();
        assertThat(info.bufferedFromGuest()).isEqualTo(16 * 1024);
        assertThat(info.bytesFromGuest()).isEqualTo(16 * 1024);
        assertThat(rig.guest.ports.get(0).txInFlight).isEqualTo(200 - 16); // the rest waits in the ring
        assertThat(longestNotify).isLessThan(TimeUnit.MILLISECONDS.toNanos(500));
        // The other direction still works while transmit is stuck.
        rig.device.send(0, SinglePortTest.ascii("still alive"));
        rig.guest.awaitUntil(() -> rig.guest.ports.get(0).receivedTotal == 11, "input during a stalled output");
        // Drain: everything arrives, nothing dropped.
        byte[] all = SinglePortTest.readExactly(rig.device, 0, 200 * 1024);
        assertThat(all).containsOnly(0);
        rig.guest.awaitUntil(() -> rig.guest.ports.get(0).txInFlight == 0, "all transmit buffers completed");
        assertThat(rig.device.port(0).orElseThrow().droppedBytes()).isZero();
    }

    @Test
    @DisplayName("HD-47: with drop_oldest the guest is never held up; the newest bytes are kept and the drops are counted")
    void hd47FloodDropOldest() {
        rig = new ConsoleRig(ConsoleOptions.defaults("console0").withPort0(PortSpec.memory(0, "", true).withBuffers(4096, 4096)
                .withOverflow(OverflowPolicy.DROP_OLDEST)));
        rig.guest.bringUp(SinglePortTest.SINGLE, 256);
        Pattern out = new Pattern(31);
        long total = 1 * MIB;
        long sent = 0;
        SplittableRandom rnd = new SplittableRandom(32);
        while (sent < total) {
            sent = feedGuest(rig.guest, 0, sent, total, out, rnd, 64);
            rig.guest.pump();
            rig.driver.awaitInterrupt(1);
        }
        rig.guest.awaitUntil(() -> rig.guest.ports.get(0).txInFlight == 0, "all completed");
        PortInfo info = rig.device.port(0).orElseThrow();
        assertThat(info.bufferedFromGuest()).isEqualTo(4096);
        assertThat(info.droppedBytes()).isEqualTo(total - 4096);
        assertThat(rig.device.read(0, 8192)).isEqualTo(out.chunk(total - 4096, 4096));
    }
}
