package dist

import "testing"

func TestLaunchedSize(t *testing.T) {
	tests := []struct {
		env      map[string]string
		n        int
		variable string
	}{
		{nil, 1, ""},
		{map[string]string{"OMPI_COMM_WORLD_SIZE": "1"}, 1, ""},
		{map[string]string{"OMPI_COMM_WORLD_SIZE": "4"}, 4, "OMPI_COMM_WORLD_SIZE"},
		{map[string]string{"PMI_SIZE": "2"}, 2, "PMI_SIZE"},
		{map[string]string{"PMIX_SIZE": "3"}, 3, "PMIX_SIZE"},
		{map[string]string{"OMPI_COMM_WORLD_SIZE": "many"}, 1, ""},
	}
	for _, tt := range tests {
		n, v := launchedSize(func(k string) string { return tt.env[k] })
		if n != tt.n || v != tt.variable {
			t.Errorf("launchedSize(%v) = %d, %q; want %d, %q", tt.env, n, v, tt.n, tt.variable)
		}
	}
}
