package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
)

// fakeBus answers PutEvents as EventBridge does, failing the entries whose data.id the test
// names, a given number of times each, with the given code.
type fakeBus struct {
	failures map[string][]string // data.id -> codes to answer, one per call, then success
	calls    [][]string          // data.ids of each request, in order
	nextID   int
}

func dataID(entry types.PutEventsRequestEntry) string {
	var detail struct {
		Data struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	_ = json.Unmarshal([]byte(aws.ToString(entry.Detail)), &detail)
	return detail.Data.ID
}

func (f *fakeBus) PutEvents(_ context.Context, in *eventbridge.PutEventsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	if len(in.Entries) > MaxEntriesPerRequest {
		return nil, fmt.Errorf("ValidationException: %d entries", len(in.Entries))
	}
	size := 0
	ids := make([]string, len(in.Entries))
	out := &eventbridge.PutEventsOutput{}
	for i, entry := range in.Entries {
		size += EntrySize(entry)
		ids[i] = dataID(entry)
		if codes := f.failures[ids[i]]; len(codes) > 0 {
			f.failures[ids[i]] = codes[1:]
			out.FailedEntryCount++
			out.Entries = append(out.Entries, types.PutEventsResultEntry{ErrorCode: aws.String(codes[0]), ErrorMessage: aws.String("test")})
			continue
		}
		f.nextID++
		out.Entries = append(out.Entries, types.PutEventsResultEntry{EventId: aws.String(fmt.Sprintf("event-%d", f.nextID))})
	}
	if size > MaxRequestBytes {
		return nil, fmt.Errorf("ValidationException: %d bytes", size)
	}
	f.calls = append(f.calls, ids)
	return out, nil
}

func events(n int) []Event {
	out := make([]Event, n)
	for i := range out {
		out[i] = Event{
			Source:     "voipbin.call-manager",
			Type:       "call_hangup",
			CustomerID: "5e4a0680-804e-11ec-8477-2fea5968d85b",
			Data:       json.RawMessage(fmt.Sprintf(`{"id":"e%d"}`, i)),
		}
	}
	return out
}

func newEmitter(bus *fakeBus, delays *[]time.Duration) *Emitter {
	return &Emitter{Client: bus, Bus: "voipbin-events", MaxAttempts: 4, BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second,
		Sleep: func(_ context.Context, d time.Duration) error { *delays = append(*delays, d); return nil }}
}

func TestPutsInRequestsOfTen(t *testing.T) {
	bus := &fakeBus{failures: map[string][]string{}}
	var delays []time.Duration
	results := newEmitter(bus, &delays).Emit(context.Background(), events(23))
	if Failed(results) {
		t.Fatalf("unexpected failures: %+v", results)
	}
	sizes := []int{}
	for _, call := range bus.calls {
		sizes = append(sizes, len(call))
	}
	if fmt.Sprint(sizes) != "[10 10 3]" {
		t.Fatalf("request sizes %v, want [10 10 3]", sizes)
	}
	if len(delays) != 0 {
		t.Fatalf("slept %v with nothing to retry", delays)
	}
}

func TestResendsOnlyFailedEntriesWithBackoff(t *testing.T) {
	bus := &fakeBus{failures: map[string][]string{
		"e2": {"InternalFailure", "ThrottlingException"},
		"e7": {"InternalFailure"},
		"e5": {"MalformedDetail"},
	}}
	var delays []time.Duration
	results := newEmitter(bus, &delays).Emit(context.Background(), events(10))
	if want := "[[e0 e1 e2 e3 e4 e5 e6 e7 e8 e9] [e2 e7] [e2]]"; fmt.Sprint(bus.calls) != want {
		t.Fatalf("requests %v, want %v", bus.calls, want)
	}
	for i, result := range results {
		if i == 5 {
			var failed *EntryFailedError
			if !errors.As(result.Err, &failed) || failed.Code != "MalformedDetail" || failed.Attempts != 1 {
				t.Fatalf("event 5: %v, want a MalformedDetail failure after 1 attempt", result.Err)
			}
			continue
		}
		if result.Err != nil || result.EventID == "" {
			t.Fatalf("event %d: id %q err %v", i, result.EventID, result.Err)
		}
	}
	if len(delays) != 2 || delays[0] <= 0 || delays[0] > 100*time.Millisecond || delays[1] > 200*time.Millisecond {
		t.Fatalf("backoff %v, want two jittered delays within 100 ms and 200 ms", delays)
	}
}

func TestGivesUpAfterMaxAttempts(t *testing.T) {
	bus := &fakeBus{failures: map[string][]string{"e0": {"InternalFailure", "InternalFailure", "InternalFailure", "InternalFailure", "InternalFailure"}}}
	var delays []time.Duration
	results := newEmitter(bus, &delays).Emit(context.Background(), events(1))
	var failed *EntryFailedError
	if !errors.As(results[0].Err, &failed) || failed.Attempts != 4 || failed.Code != "InternalFailure" {
		t.Fatalf("got %v, want InternalFailure after 4 attempts", results[0].Err)
	}
	if len(bus.calls) != 4 {
		t.Fatalf("%d requests, want 4", len(bus.calls))
	}
}

func TestRefusesAnEntryOver256KBWithoutCallingAWS(t *testing.T) {
	bus := &fakeBus{failures: map[string][]string{}}
	var delays []time.Duration
	list := events(3)
	list[1].Data = json.RawMessage(`{"id":"e1","blob":"` + strings.Repeat("x", MaxRequestBytes) + `"}`)
	results := newEmitter(bus, &delays).Emit(context.Background(), list)
	var tooLarge *EntryTooLargeError
	if !errors.As(results[1].Err, &tooLarge) || !strings.Contains(results[1].Err.Error(), "refuses entries over 262144 bytes") {
		t.Fatalf("event 1: %v, want EntryTooLargeError", results[1].Err)
	}
	if results[0].Err != nil || results[2].Err != nil || fmt.Sprint(bus.calls) != "[[e0 e2]]" {
		t.Fatalf("the other events: %+v, requests %v", results, bus.calls)
	}
}

func TestPacksRequestsWithin256KB(t *testing.T) {
	bus := &fakeBus{failures: map[string][]string{}}
	var delays []time.Duration
	list := events(4)
	for i := range list {
		list[i].Data = json.RawMessage(fmt.Sprintf(`{"id":"e%d","blob":"%s"}`, i, strings.Repeat("x", 100*1024)))
	}
	results := newEmitter(bus, &delays).Emit(context.Background(), list)
	if Failed(results) || fmt.Sprint(bus.calls) != "[[e0 e1] [e2 e3]]" {
		t.Fatalf("requests %v, results %+v", bus.calls, results)
	}
}

func TestSendsOnlyTheWebhookProjection(t *testing.T) {
	entry, err := Entry(0, Event{Source: "voipbin.call-manager", Type: "call_hangup", CustomerID: "c1", Data: json.RawMessage(`{"id":"x"}`)}, "voipbin-events")
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(entry.Detail); got != `{"customer_id":"c1","data":{"id":"x"}}` {
		t.Fatalf("Detail %s", got)
	}
	if aws.ToString(entry.DetailType) != "call_hangup" || aws.ToString(entry.Source) != "voipbin.call-manager" || aws.ToString(entry.EventBusName) != "voipbin-events" {
		t.Fatalf("entry %+v", entry)
	}
}

func TestListsEveryProblemOfAnEvent(t *testing.T) {
	_, err := Entry(3, Event{Source: "billing", Data: json.RawMessage(`[1]`)}, "voipbin-events")
	var invalid *InvalidEventError
	if !errors.As(err, &invalid) || len(invalid.Problems) != 4 {
		t.Fatalf("got %v, want four problems", err)
	}
}
