package dist

import "errors"

// errClosed is returned by collectives called after Close.
var errClosed = errors.New("dist: communicator is closed")

// Single returns the one-process communicator: rank 0 of 1, every
// collective leaves its buffer as it is, AgreeOnError returns local.
func Single() Comm { return &single{} }

type single struct{ closed bool }

func (s *single) Rank() int { return 0 }
func (s *single) Size() int { return 1 }

func (s *single) check() error {
	if s.closed {
		return errClosed
	}
	return nil
}

func (s *single) AllReduceSum([]float32) error   { return s.check() }
func (s *single) AllReduceSum64([]float64) error { return s.check() }
func (s *single) Barrier() error                 { return s.check() }

func (s *single) Broadcast(_ []float32, root int) error   { return s.bcast(root) }
func (s *single) Broadcast64(_ []float64, root int) error { return s.bcast(root) }

func (s *single) bcast(root int) error {
	if err := s.check(); err != nil {
		return err
	}
	return checkRoot(root, 1)
}

func (s *single) BroadcastBytes(b []byte, root int) ([]byte, error) {
	if err := s.bcast(root); err != nil {
		return nil, err
	}
	return append([]byte(nil), b...), nil
}

func (s *single) AgreeOnError(local error) error {
	if err := s.check(); err != nil {
		return errors.Join(local, err)
	}
	return local
}

func (s *single) Close() error { s.closed = true; return nil }
