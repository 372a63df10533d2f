package dev.peridot.virtio.console.internal.backend;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class ByteRingTest {

    private static byte[] bytes(int from, int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (from + i);
        }
        return b;
    }

    @Test
    @DisplayName("offer takes what fits; take returns it in order across the wrap-around")
    void wrapAround() {
        ByteRing ring = new ByteRing(10);
        assertThat(ring.offer(bytes(0, 7), 0, 7)).isEqualTo(7);
        byte[] out = new byte[5];
        assertThat(ring.take(out, 0, 5)).isEqualTo(5);
        assertThat(out).isEqualTo(bytes(0, 5));
        assertThat(ring.offer(bytes(7, 12), 0, 12)).isEqualTo(8); // 2 left + 8 free
        byte[] all = new byte[20];
        assertThat(ring.take(all, 0, 20)).isEqualTo(10);
        assertThat(java.util.Arrays.copyOf(all, 10)).isEqualTo(bytes(5, 10));
        assertThat(ring.totalIn()).isEqualTo(15);
        assertThat(ring.totalOut()).isEqualTo(15);
    }

    @Test
    @DisplayName("drop-oldest keeps the newest bytes and counts what it discarded, also for writes larger than the ring")
    void dropOldest() {
        ByteRing ring = new ByteRing(8);
        ring.offer(bytes(0, 6), 0, 6);
        assertThat(ring.offerDropOldest(bytes(6, 4), 0, 4)).isEqualTo(2);
        byte[] out = new byte[8];
        assertThat(ring.take(out, 0, 8)).isEqualTo(8);
        assertThat(out).isEqualTo(bytes(2, 8));
        assertThat(ring.offerDropOldest(bytes(100, 20), 0, 20)).isEqualTo(12);
        assertThat(ring.take(out, 0, 8)).isEqualTo(8);
        assertThat(out).isEqualTo(bytes(112, 8));
        assertThat(ring.dropped()).isEqualTo(14);
    }

    @Test
    @DisplayName("peek/commit: bytes leave only when committed; a commit after drops does not remove newer bytes")
    void peekCommit() {
        ByteRing ring = new ByteRing(8);
        ring.offer(bytes(0, 8), 0, 8);
        byte[] out = new byte[8];
        assertThat(ring.peek(out, 0, 4)).isEqualTo(4);
        ring.commit(2); // the channel took only 2
        assertThat(ring.size()).isEqualTo(6);
        assertThat(ring.peek(out, 0, 8)).isEqualTo(6);
        assertThat(out[0]).isEqualTo((byte) 2);
        ring.offerDropOldest(bytes(8, 4), 0, 4); // drops 2..5 while the consumer holds a peek of 2..7
        ring.commit(6); // up to 8: bytes 8.. stay
        assertThat(ring.size()).isEqualTo(4);
        ring.take(out, 0, 4);
        assertThat(java.util.Arrays.copyOf(out, 4)).isEqualTo(bytes(8, 4));
    }

    @Test
    @DisplayName("the space listener runs once a consumer frees space a waiting producer asked for, and not otherwise")
    void spaceListener() {
        ByteRing ring = new ByteRing(4);
        AtomicInteger calls = new AtomicInteger();
        ring.setSpaceListener(calls::incrementAndGet);
        ring.offer(bytes(0, 2), 0, 2);
        ring.take(new byte[1], 0, 1);
        assertThat(calls.get()).isZero(); // nobody waited
        ring.offer(bytes(0, 3), 0, 3);
        ring.requestSpaceNotification(); // full: a producer waits
        assertThat(calls.get()).isZero();
        ring.take(new byte[1], 0, 1);
        assertThat(calls.get()).isEqualTo(1);
        ring.take(new byte[1], 0, 1);
        assertThat(calls.get()).isEqualTo(1);
        ring.requestSpaceNotification(); // not full: told at once
        assertThat(calls.get()).isEqualTo(2);
    }

    @Test
    @DisplayName("awaitData and awaitSpace wake on the other side's progress and time out otherwise")
    void waiting() throws Exception {
        ByteRing ring = new ByteRing(2);
        assertThat(ring.awaitData(10, TimeUnit.MILLISECONDS)).isFalse();
        Thread producer = Thread.ofVirtual().start(() -> {
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                return;
            }
            ring.offer(bytes(0, 2), 0, 2);
        });
        assertThat(ring.awaitData(5, TimeUnit.SECONDS)).isTrue();
        producer.join();
        assertThat(ring.awaitSpace(10, TimeUnit.MILLISECONDS)).isFalse();
        Thread consumer = Thread.ofVirtual().start(() -> ring.take(new byte[1], 0, 1));
        assertThat(ring.awaitSpace(5, TimeUnit.SECONDS)).isTrue();
        consumer.join();
    }
}
