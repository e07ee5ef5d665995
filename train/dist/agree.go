package dist

import (
	"errors"
	"fmt"
)

// minReducer is what agreeOnError needs beyond Comm: the minimum of one
// int over the ranks.
type minReducer interface {
	Comm
	allReduceMin(v int) (int, error)
}

// agreeOnError is AgreeOnError from two collectives, without timeouts:
// an all-reduce (min) of "my rank if I failed, else Size()" finds the lowest
// failing rank, which then broadcasts its message. Every rank makes the same
// calls whatever its error, so no rank waits on one that has left.
func agreeOnError(c minReducer, local error) error {
	me, n := c.Rank(), c.Size()
	flag := n
	if local != nil {
		flag = me
	}
	first, err := c.allReduceMin(flag)
	if err != nil {
		return errors.Join(local, fmt.Errorf("dist: agreeing on errors: %w", err))
	}
	if first == n {
		return nil
	}
	if first < 0 || first > n {
		return errors.Join(local, fmt.Errorf("dist: agreeing on errors: lowest failing rank %d out of range [0, %d)", first, n))
	}
	var msg []byte
	if me == first {
		msg = []byte(local.Error())
	}
	msg, err = c.BroadcastBytes(msg, first)
	if err != nil {
		return errors.Join(local, fmt.Errorf("dist: broadcasting rank %d's error: %w", first, err))
	}
	if n == 1 {
		return local // one process: its error reads as it would without dist
	}
	re := &RankError{Rank: first, Msg: string(msg)}
	if me == first {
		re.Err = local
	}
	return re
}
