package dist

import "testing"

func TestShard(t *testing.T) {
	tests := []struct {
		n, size int
		want    [][2]int // per rank
	}{
		{n: 8, size: 1, want: [][2]int{{0, 8}}},
		{n: 8, size: 2, want: [][2]int{{0, 4}, {4, 8}}},
		{n: 16, size: 4, want: [][2]int{{0, 4}, {4, 8}, {8, 12}, {12, 16}}},
		{n: 7, size: 3, want: [][2]int{{0, 3}, {3, 5}, {5, 7}}},
		{n: 5, size: 2, want: [][2]int{{0, 3}, {3, 5}}},
		{n: 2, size: 3, want: [][2]int{{0, 1}, {1, 2}, {2, 2}}},
		{n: 0, size: 2, want: [][2]int{{0, 0}, {0, 0}}},
	}
	for _, tt := range tests {
		next := 0
		for rank, want := range tt.want {
			start, end, err := Shard(tt.n, rank, tt.size)
			if err != nil {
				t.Fatalf("Shard(%d, %d, %d): %v", tt.n, rank, tt.size, err)
			}
			if start != want[0] || end != want[1] {
				t.Errorf("Shard(%d, %d, %d) = [%d, %d), want [%d, %d)", tt.n, rank, tt.size, start, end, want[0], want[1])
			}
			if start != next {
				t.Errorf("Shard(%d, %d, %d) starts at %d, rank %d ended at %d", tt.n, rank, tt.size, start, rank-1, next)
			}
			next = end
		}
		if next != tt.n {
			t.Errorf("Shard(%d, *, %d): the ranks cover [0, %d)", tt.n, tt.size, next)
		}
	}
}

func TestShardInvalid(t *testing.T) {
	for _, tt := range []struct{ n, rank, size int }{
		{8, 0, 0}, {8, -1, 2}, {8, 2, 2}, {-1, 0, 2},
	} {
		if _, _, err := Shard(tt.n, tt.rank, tt.size); err == nil {
			t.Errorf("Shard(%d, %d, %d): no error", tt.n, tt.rank, tt.size)
		}
	}
}
