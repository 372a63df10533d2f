package dev.peridot.virtio.entropy;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

/** The seeded stream is exactly what its Javadoc documents, so anyone can reproduce it. */
class SeededSourceTest {

    @Test
    void matchesTheDocumentedConstructionComputedOutsideJava() {
        // printf '\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00' | sha256sum (block 0 of seed 1)
        // printf '\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01' | sha256sum (block 1 of seed 1)
        String expected = "783825822a6f9e62da2190e828e4c9d2576e5977e3a0b3620b092dfb9e9996fa"
                + "532deabf88729cb43995ab5a9cd49bf9b90a079904dc0645ecda9e47ce7345a9";
        assertThat(HexFormat.of().formatHex(SeededSource.stream(1, 64))).isEqualTo(expected);
    }

    @Test
    void theStreamDoesNotDependOnHowItIsCutIntoReads() {
        byte[] whole = SeededSource.stream(42, 1000);
        SeededSource source = new SeededSource(42);
        byte[] pieces = new byte[1000];
        int at = 0;
        for (int n : new int[] {1, 31, 32, 33, 64, 7, 500}) {
            source.fill(pieces, at, n);
            at += n;
        }
        source.fill(pieces, at, 1000 - at);
        assertThat(pieces).isEqualTo(whole);
        assertThat(source.position()).isEqualTo(1000);
    }

    @Test
    void differentSeedsGiveDifferentStreams() {
        assertThat(Arrays.equals(SeededSource.stream(1, 32), SeededSource.stream(2, 32))).isFalse();
        assertThat(SeededSource.stream(-1, 32)).hasSize(32);
    }
}
