//go:build !amd64 || purego

package graph

func detectSIMD() int { return simdNone }

func expSubSumVec(row []float32, m float32) (int, float64) { return 0, 0 }
func geluFwdVec(x, y []float32) int                        { return 0 }
func geluBwdVec(x, g, dx []float32) int                    { return 0 }
func scaleVec(x []float32, s float32) int                  { return 0 }
