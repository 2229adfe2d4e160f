// SPDX-License-Identifier: MIT
//
// pg_load's peer on Go's pgx v4 (bench/pg_load.c says what each mode
// measures).  pgxpool does not reset a session on release (asyncpg and cio
// do: one more round trip per query in select).
//
//	pg_load CONNINFO select N [SECONDS [WARMUP]]
//	pg_load CONNINFO fetch ROUNDS   (the rows kept in a slice, as asyncpg's fetch)
//	pg_load CONNINFO stream ROUNDS  (rows.Next: one row at a time, nothing kept)
package main

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v4"
	"github.com/jackc/pgx/v4/pgxpool"
)

func runSelect(ctx context.Context, conninfo string, n int, seconds, warmup float64) error {
	cfg, err := pgxpool.ParseConfig(conninfo)
	if err != nil {
		return err
	}
	cfg.MinConns, cfg.MaxConns = int32(n), int32(n)
	pool, err := pgxpool.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	var done int64
	var stop atomic.Bool
	var failed atomic.Value
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(seed int64) {
			defer wg.Done()
			r := rand.New(rand.NewSource(seed))
			for !stop.Load() {
				var id int32
				var name string
				var balance float64
				err := pool.QueryRow(ctx, "SELECT id, name, balance FROM accounts WHERE id = $1",
					int32(r.Intn(100000)+1)).Scan(&id, &name, &balance)
				if err != nil {
					failed.Store(err)
					stop.Store(true)
					return
				}
				atomic.AddInt64(&done, 1)
			}
		}(int64(i + 1))
	}
	time.Sleep(time.Duration(warmup * float64(time.Second)))
	n0, t0 := atomic.LoadInt64(&done), time.Now()
	time.Sleep(time.Duration(seconds * float64(time.Second)))
	n1, t1 := atomic.LoadInt64(&done), time.Now()
	stop.Store(true)
	wg.Wait()
	if err, ok := failed.Load().(error); ok {
		return err
	}
	dt := t1.Sub(t0).Seconds()
	fmt.Printf("queries %d in %.3f s\n", n1-n0, dt)
	fmt.Printf("pg-select-%d %.0f q/s\n", n, float64(n1-n0)/dt)
	return nil
}

type bigRow struct {
	id      int64
	name    string
	balance float64
}

func runFetch(ctx context.Context, conninfo string, rounds int, keep bool) error {
	c, err := pgx.Connect(ctx, conninfo)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	best := 0.0
	for r := 0; r < rounds; r++ {
		t0 := time.Now()
		rows, err := c.Query(ctx, "SELECT id, name, balance FROM big")
		if err != nil {
			return err
		}
		var sum, count int64
		var kept []bigRow
		for rows.Next() {
			var row bigRow
			if err := rows.Scan(&row.id, &row.name, &row.balance); err != nil {
				return err
			}
			if keep {
				kept = append(kept, row)
			} else {
				sum += row.id
			}
			count++
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for i := range kept {
			sum += kept[i].id
		}
		rate := float64(count) / time.Since(t0).Seconds()
		fmt.Printf("round %d: %d rows, sum %d, %.0f rows/s\n", r, count, sum, rate)
		if rate > best {
			best = rate
		}
	}
	mode := "stream"
	if keep {
		mode = "fetch"
	}
	fmt.Printf("pg-%s %.0f rows/s\n", mode, best)
	return nil
}

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: pg_load CONNINFO select N [SECONDS [WARMUP]] | fetch ROUNDS | stream ROUNDS")
		os.Exit(2)
	}
	ctx := context.Background()
	n, _ := strconv.Atoi(os.Args[3])
	var err error
	if os.Args[2] == "select" {
		seconds, warmup := 3.0, 0.5
		if len(os.Args) > 4 {
			seconds, _ = strconv.ParseFloat(os.Args[4], 64)
		}
		if len(os.Args) > 5 {
			warmup, _ = strconv.ParseFloat(os.Args[5], 64)
		}
		err = runSelect(ctx, os.Args[1], n, seconds, warmup)
	} else {
		err = runFetch(ctx, os.Args[1], n, os.Args[2] == "fetch")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pg_load:", err)
		os.Exit(1)
	}
}
