package dev.peridot.virtio.console.internal;

import static dev.peridot.virtio.console.internal.ConsoleDevice.*;
import static org.assertj.core.api.Assertions.assertThat;

import dev.peridot.virtio.console.PortSpec;
import dev.peridot.virtio.device.DeviceStatus;
import java.io.ByteArrayOutputStream;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** Resets in the middle of the handshake and of transfers (HD-11, HD-45): the handshake restarts cleanly, host data survives. */
class ResetTest {

    private ConsoleRig rig;

    @AfterEach
    void close() {
        rig.close();
    }

    @Test
    @DisplayName("HD-45: reset after the PORT_ADDs, before PORT_READY: the next driver gets a clean handshake, each port added once")
    void hd45ResetMidHandshake() {
        rig = ConsoleRig.multiport(4);
        rig.device.addPort(PortSpec.memory(1, "org.a", false));
        rig.device.addPort(PortSpec.memory(2, "org.b", true));
        rig.guest.answerPortReady = false;
        rig.guest.bringUp(ConsoleGuest.LINUX_FEATURES);
        rig.guest.awaitPorts(0, 1, 2);
        rig.guest.sendControl(1, PORT_READY, 1); // one port half-way
        rig.guest.awaitUntil(() -> !rig.guest.messages(1, PORT_OPEN).isEmpty(), "port 1 details");
        rig.driver.reset();
        assertThat(rig.device.port(1).orElseThrow().announced()).isFalse();
        assertThat(rig.device.isDeviceReady()).isFalse();
        rig.guest.log.clear();
        rig.guest.answerPortReady = true;
        rig.guest.bringUp(ConsoleGuest.LINUX_FEATURES);
        rig.guest.awaitUntil(() -> rig.guest.ports.size() == 3 && rig.device.port(2).orElseThrow().guestOpen()
                && rig.guest.ports.get(1).hostOpen, "second handshake");
        assertThat(rig.guest.messages(DEVICE_ADD)).extracting(ConsoleGuest.Message::id).containsExactly(0, 1, 2);
        assertThat(rig.guest.messages(1, PORT_NAME)).hasSize(1);
        MultiportHandshakeTest.assertLogInvariants(rig.guest.log, 4);
        assertThat(rig.driver.status()).isEqualTo(0x0F);
    }

    @Test
    @DisplayName("HD-45: reset while control messages wait for buffers: none of them reaches the next driver")
    void resetWithPendingControlMessages() {
        rig = ConsoleRig.multiport(4);
        rig.device.addPort(PortSpec.memory(1, "org.a", false));
        rig.guest.bringUpQueues(ConsoleGuest.LINUX_FEATURES, 64);
        rig.guest.sendControl(ConsoleGuest.BAD_ID, DEVICE_READY, 1); // no control buffers: ADDs wait
        rig.guest.awaitUntil(() -> rig.device.pendingControlMessages() == 2, "pending ADDs");
        rig.driver.reset();
        assertThat(rig.device.pendingControlMessages()).isZero();
        rig.guest.bringUpQueues(ConsoleGuest.LINUX_FEATURES, 64);
        rig.guest.fillControl();
        rig.guest.pumpFor(50);
        assertThat(rig.guest.log).isEmpty(); // CON-32: nothing before this driver's DEVICE_READY
        rig.guest.sendControl(ConsoleGuest.BAD_ID, DEVICE_READY, 1);
        rig.guest.awaitPorts(0, 1);
        assertThat(rig.guest.messages(DEVICE_ADD)).hasSize(2);
    }

    @Test
    @DisplayName("HD-11: reset while guest output is held by back-pressure: completed output reaches the backend exactly once, the new driver's output follows")
    void resetMidTransmit() {
        rig = new ConsoleRig(ConsoleOptions.defaults("console0").withPort0(PortSpec.memory(0, "", true).withBuffers(4096, 8192)));
        rig.guest.bringUp(SinglePortTest.SINGLE, 64);
        Pattern a = new Pattern(41);
        Pattern b = new Pattern(42);
        int chunk = 3000;
        int chains = 20;
        for (int i = 0; i < chains; i++) {
            rig.guest.write(0, a.chunk((long) i * chunk, chunk));
        }
        rig.guest.awaitUntil(() -> rig.device.port(0).orElseThrow().bufferedFromGuest() == 8192, "buffer full");
        ByteArrayOutputStream received = new ByteArrayOutputStream();
        received.writeBytes(rig.device.read(0, 5000)); // the backend takes some; more chains progress
        rig.guest.pumpFor(20);
        rig.driver.reset(); // with a partly copied chain in flight
        rig.guest.pump(); // harvest what was completed before the reset
        int completed = chains - rig.guest.ports.get(0).txInFlight;
        assertThat(completed).isBetween(1, chains - 1);
        received.writeBytes(rig.device.read(0, 1 << 20));
        rig.guest.bringUp(SinglePortTest.SINGLE, 64);
        long phaseB = 50_000;
        for (long pos = 0; pos < phaseB; pos += 5000) {
            rig.guest.write(0, b.chunk(pos, 5000));
            received.writeBytes(rig.device.read(0, 1 << 20));
            rig.guest.pump();
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (rig.guest.ports.get(0).txInFlight > 0 || rig.device.port(0).orElseThrow().bufferedFromGuest() > 0) {
            received.writeBytes(rig.device.read(0, 1 << 20));
            rig.guest.pump();
            assertThat(System.nanoTime()).isLessThan(deadline);
        }
        byte[] all = received.toByteArray();
        // Phase A: a prefix of the stream covering every completed chain (plus at most the part of the
        // chain in flight at the reset that was already taken); then phase B exactly.
        long aLength = all.length - phaseB;
        assertThat(aLength).isBetween((long) completed * chunk, (long) (completed + 1) * chunk);
        assertThat(Arrays.copyOfRange(all, 0, (int) aLength)).isEqualTo(a.chunk(0, (int) aLength));
        assertThat(Arrays.copyOfRange(all, (int) aLength, all.length)).isEqualTo(b.chunk(0, (int) phaseB));
        assertThat(rig.device.port(0).orElseThrow().droppedBytes()).isZero();
    }

    @Test
    @DisplayName("HD-11: reset in the middle of 8 MiB of host input: every byte arrives once, in order, across the reset")
    void resetMidReceive() throws Exception {
        rig = ConsoleRig.single();
        long total = 8L << 20;
        Pattern in = new Pattern(51);
        Pattern.Verifier verifier = in.verifier();
        rig.guest.receiveSink = (port, data) -> verifier.accept(data);
        rig.guest.receiveBufferSize = 8192;
        rig.guest.bringUp(SinglePortTest.SINGLE, 64);
        AtomicBoolean stop = new AtomicBoolean();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread producer = Thread.ofPlatform().start(() -> {
            SplittableRandom rnd = new SplittableRandom(52);
            byte[] chunk = new byte[32 * 1024];
            long pos = 0;
            try {
                while (pos < total && !stop.get()) {
                    int len = (int) Math.min(total - pos, 1 + rnd.nextInt(chunk.length));
                    in.fill(chunk, 0, len, pos);
                    int off = 0;
                    while (off < len && !stop.get()) {
                        off += rig.device.send(0, chunk, off, len - off);
                        if (off < len) {
                            LockSupport.parkNanos(50_000);
                        }
                    }
                    pos += len;
                }
            } catch (Throwable t) {
                failure.set(t);
            }
        });
        try {
            int resets = 0;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (verifier.position() < total && System.nanoTime() < deadline && failure.get() == null) {
                rig.guest.pump();
                if (resets < 3 && verifier.position() > (resets + 1) * (total / 4)) {
                    rig.driver.reset();
                    rig.guest.pump(); // what was used before the reset belongs to the old driver's buffers
                    rig.guest.bringUp(SinglePortTest.SINGLE, 64);
                    resets++;
                }
                rig.driver.awaitInterrupt(1);
            }
            assertThat(resets).isEqualTo(3);
        } finally {
            stop.set(true);
            producer.join(5000);
        }
        assertThat(failure.get()).isNull();
        assertThat(verifier.position()).isEqualTo(total);
        assertThat(rig.driver.status() & DeviceStatus.DEVICE_NEEDS_RESET).isZero();
    }

    @Test
    @DisplayName("unbind and rebind as Linux does (reset, QueueReady=0 each queue): the multiport handshake runs again")
    void unbindRebind() {
        rig = ConsoleRig.multiport(2);
        rig.device.addPort(PortSpec.memory(1, "org.x", false));
        rig.guest.bringUp(ConsoleGuest.LINUX_FEATURES);
        rig.guest.awaitPorts(0, 1);
        rig.driver.unbind();
        rig.guest.log.clear();
        rig.guest.bringUp(ConsoleGuest.LINUX_FEATURES);
        rig.guest.awaitUntil(() -> rig.guest.ports.size() == 2 && rig.guest.ports.get(1).hostOpen, "rebind");
        assertThat(rig.guest.messages(DEVICE_ADD)).hasSize(2);
    }
}
