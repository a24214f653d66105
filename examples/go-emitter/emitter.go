package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
)

// EventBridge's documented limits (Amazon EventBridge quotas; PutEvents in the API Reference):
// at most 10 entries per PutEvents request, at most 256 KB for the entries of one request, so
// also for one entry. The size counts the UTF-8 bytes of Source, DetailType and Detail, each
// Resources string, and 14 bytes for Time when it is set ("Calculating PutEvents event entry
// size", EventBridge User Guide).
const (
	MaxEntriesPerRequest = 10
	MaxRequestBytes      = 256 * 1024
	timeEntryBytes       = 14
)

// Event is one VoIPBIN event as a service knows it: what is put on the bus is only its webhook
// projection, {"customer_id", "data"}, never the service's internal struct.
type Event struct {
	Source     string          `json:"source"`
	Type       string          `json:"type"`
	CustomerID string          `json:"customer_id"`
	Data       json.RawMessage `json:"data"`
}

// projection is the Detail VoIPBIN's webhook projection puts on the bus (PRODUCT §2).
type projection struct {
	CustomerID string          `json:"customer_id"`
	Data       json.RawMessage `json:"data"`
}

// InvalidEventError lists every problem of one event at once.
type InvalidEventError struct {
	Index    int
	Problems []string
}

func (e *InvalidEventError) Error() string {
	return fmt.Sprintf("event %d is invalid: %s", e.Index, strings.Join(e.Problems, "; "))
}

// EntryTooLargeError is returned, without calling AWS, for an entry EventBridge would refuse.
type EntryTooLargeError struct {
	Index int
	Type  string
	Size  int
}

func (e *EntryTooLargeError) Error() string {
	return fmt.Sprintf(
		"event %d (%s) is %d bytes as a PutEvents entry; EventBridge refuses entries over %d bytes (256 KB): send a smaller projection (ids instead of embedded objects)",
		e.Index, e.Type, e.Size, MaxRequestBytes)
}

// EntryFailedError is an entry EventBridge refused, with its error code, after the attempts made.
type EntryFailedError struct {
	Index    int
	Code     string
	Message  string
	Attempts int
}

func (e *EntryFailedError) Error() string {
	return fmt.Sprintf("event %d failed after %d attempt(s): %s: %s", e.Index, e.Attempts, e.Code, e.Message)
}

// RequestFailedError is a PutEvents call that failed as a whole (after the SDK's own retries of
// throttling and transport errors); every entry of that request carries it.
type RequestFailedError struct {
	Index int
	Err   error
}

func (e *RequestFailedError) Error() string {
	return fmt.Sprintf("event %d: PutEvents request failed: %v", e.Index, e.Err)
}

func (e *RequestFailedError) Unwrap() error { return e.Err }

// Result is the outcome of one event: its EventBridge event id, or why it was not put.
type Result struct {
	Index   int
	EventID string
	Err     error
}

// PutEventsAPI is the one call the emitter needs (satisfied by *eventbridge.Client).
type PutEventsAPI interface {
	PutEvents(ctx context.Context, params *eventbridge.PutEventsInput, optFns ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// Emitter puts events in requests of at most 10 entries and 256 KB, and resends only the entries
// that failed with a retryable code, with exponential backoff and full jitter.
type Emitter struct {
	Client      PutEventsAPI
	Bus         string
	MaxAttempts int           // attempts per entry, the first included (default 5)
	BaseDelay   time.Duration // backoff before the second attempt (default 100 ms)
	MaxDelay    time.Duration // backoff ceiling (default 5 s)
	// Sleep waits between attempts; tests replace it to record the backoff.
	Sleep func(ctx context.Context, d time.Duration) error
}

// retryable says which per-entry codes are worth resending: PutEventsResultEntry in the
// EventBridge API Reference names InternalFailure and ThrottlingException as retryable and every
// other code (InvalidArgument, MalformedDetail, AccessDeniedException, …) as not.
func retryable(code string) bool {
	return code == "InternalFailure" || code == "ThrottlingException"
}

// EntrySize is the size EventBridge counts for an entry against the 256 KB limit.
func EntrySize(entry types.PutEventsRequestEntry) int {
	size := 0
	if entry.Time != nil {
		size += timeEntryBytes
	}
	size += len(aws.ToString(entry.Source)) + len(aws.ToString(entry.DetailType)) + len(aws.ToString(entry.Detail))
	for _, resource := range entry.Resources {
		size += len(resource)
	}
	return size
}

// Entry builds the PutEvents entry of an event, listing every problem at once.
func Entry(index int, event Event, bus string) (types.PutEventsRequestEntry, error) {
	var problems []string
	if !strings.HasPrefix(event.Source, "voipbin.") || len(event.Source) == len("voipbin.") {
		problems = append(problems, fmt.Sprintf("source %q must be voipbin.<service>", event.Source))
	}
	if strings.TrimSpace(event.Type) == "" {
		problems = append(problems, "type is missing")
	}
	if strings.TrimSpace(event.CustomerID) == "" {
		problems = append(problems, "customer_id is missing")
	}
	var data map[string]json.RawMessage
	if len(event.Data) == 0 {
		problems = append(problems, "data is missing")
	} else if err := json.Unmarshal(event.Data, &data); err != nil || data == nil {
		problems = append(problems, "data must be a JSON object")
	}
	if len(problems) > 0 {
		return types.PutEventsRequestEntry{}, &InvalidEventError{Index: index, Problems: problems}
	}
	detail, err := json.Marshal(projection{CustomerID: event.CustomerID, Data: event.Data})
	if err != nil {
		return types.PutEventsRequestEntry{}, &InvalidEventError{Index: index, Problems: []string{err.Error()}}
	}
	entry := types.PutEventsRequestEntry{
		EventBusName: aws.String(bus),
		Source:       aws.String(event.Source),
		DetailType:   aws.String(event.Type),
		Detail:       aws.String(string(detail)),
	}
	if size := EntrySize(entry); size > MaxRequestBytes {
		return types.PutEventsRequestEntry{}, &EntryTooLargeError{Index: index, Type: event.Type, Size: size}
	}
	return entry, nil
}

type pending struct {
	index int
	entry types.PutEventsRequestEntry
	size  int
}

// batches packs entries in order into requests within both PutEvents limits.
func batches(entries []pending) [][]pending {
	var out [][]pending
	var current []pending
	bytes := 0
	for _, p := range entries {
		if len(current) == MaxEntriesPerRequest || (len(current) > 0 && bytes+p.size > MaxRequestBytes) {
			out = append(out, current)
			current, bytes = nil, 0
		}
		current = append(current, p)
		bytes += p.size
	}
	if len(current) > 0 {
		out = append(out, current)
	}
	return out
}

func (e *Emitter) backoff(attempt int) time.Duration {
	base, ceiling := e.BaseDelay, e.MaxDelay
	if base <= 0 {
		base = 100 * time.Millisecond
	}
	if ceiling <= 0 {
		ceiling = 5 * time.Second
	}
	delay := base << uint(attempt-1)
	if delay <= 0 || delay > ceiling {
		delay = ceiling
	}
	// Full jitter ("Exponential Backoff And Jitter", AWS Architecture Blog): senders that failed
	// together do not retry together.
	return time.Duration(rand.Int63n(int64(delay)) + 1)
}

func sleep(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// Emit puts the events and returns one result per event, in the order given. Invalid and
// oversized events are refused before any call; the others are put in requests of up to 10.
func (e *Emitter) Emit(ctx context.Context, events []Event) []Result {
	results := make([]Result, len(events))
	var valid []pending
	for i, event := range events {
		results[i].Index = i
		entry, err := Entry(i, event, e.Bus)
		if err != nil {
			results[i].Err = err
			continue
		}
		valid = append(valid, pending{index: i, entry: entry, size: EntrySize(entry)})
	}
	maxAttempts := e.MaxAttempts
	if maxAttempts <= 0 {
		maxAttempts = 5
	}
	wait := e.Sleep
	if wait == nil {
		wait = sleep
	}
	todo := valid
	for attempt := 1; len(todo) > 0; attempt++ {
		var failed []pending
		for _, batch := range batches(todo) {
			failed = append(failed, e.put(ctx, batch, attempt, maxAttempts, results)...)
		}
		todo = failed
		if len(todo) == 0 {
			break
		}
		if err := wait(ctx, e.backoff(attempt)); err != nil {
			for _, p := range todo {
				results[p.index].Err = &RequestFailedError{Index: p.index, Err: err}
			}
			break
		}
	}
	return results
}

// put sends one request and returns the entries to resend.
func (e *Emitter) put(ctx context.Context, batch []pending, attempt, maxAttempts int, results []Result) []pending {
	entries := make([]types.PutEventsRequestEntry, len(batch))
	for i, p := range batch {
		entries[i] = p.entry
	}
	out, err := e.Client.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries})
	if err == nil && len(out.Entries) != len(batch) {
		err = fmt.Errorf("PutEvents answered %d result entries for %d entries", len(out.Entries), len(batch))
	}
	if err != nil {
		for _, p := range batch {
			results[p.index].Err = &RequestFailedError{Index: p.index, Err: err}
		}
		return nil
	}
	var retry []pending
	// The response's entries are in the request's order (PutEvents, EventBridge User Guide).
	for i, answer := range out.Entries {
		p := batch[i]
		code := aws.ToString(answer.ErrorCode)
		switch {
		case code == "" && aws.ToString(answer.EventId) != "":
			results[p.index].EventID = aws.ToString(answer.EventId)
			results[p.index].Err = nil
		case retryable(code) && attempt < maxAttempts:
			retry = append(retry, p)
		default:
			if code == "" {
				code = "MissingEventId"
			}
			results[p.index].Err = &EntryFailedError{Index: p.index, Code: code, Message: aws.ToString(answer.ErrorMessage), Attempts: attempt}
		}
	}
	return retry
}

// Failed reports whether any result is an error.
func Failed(results []Result) bool {
	for _, r := range results {
		if r.Err != nil {
			return true
		}
	}
	return false
}
