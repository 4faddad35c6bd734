package awsfake

import (
	"maps"
	"testing"
)

func TestCondition(t *testing.T) {
	item := Item{"pk": S("k"), "status": S("pending"), "leaseUntil": N(100), "flag": {BOOL: new(bool)}}
	names := map[string]string{"#s": "status"}
	values := map[string]Value{":pending": S("pending"), ":done": S("done"), ":now": N(150), ":early": N(50)}
	tests := []struct {
		expr    string
		item    Item
		want    bool
		wantErr bool
	}{
		{expr: "attribute_not_exists(pk)", item: nil, want: true},
		{expr: "attribute_not_exists(pk)", item: item, want: false},
		{expr: "attribute_exists(pk)", item: item, want: true},
		{expr: "#s = :pending", item: item, want: true},
		{expr: "#s = :done", item: item, want: false},
		{expr: "#s <> :done", item: item, want: true},
		{expr: "leaseUntil < :now", item: item, want: true},
		{expr: "leaseUntil < :early", item: item, want: false},
		{expr: "leaseUntil >= :early AND leaseUntil <= :now", item: item, want: true},
		{expr: "attribute_not_exists(pk) OR (#s = :pending AND leaseUntil < :now)", item: item, want: true},
		{expr: "attribute_not_exists(pk) OR (#s = :pending AND leaseUntil < :early)", item: item, want: false},
		{expr: "attribute_not_exists(pk) OR (#s = :pending AND leaseUntil < :now)", item: nil, want: true},
		{expr: "NOT #s = :done", item: item, want: true},
		{expr: "missing = :done", item: item, want: false},                            // missing attribute: false
		{expr: "#s < :now", item: item, want: false},                                  // different types: unordered
		{expr: "a = :b OR c = :d AND e = :f", item: Item{"a": S("x")}, wantErr: true}, // undefined values
		{expr: "#nope = :done", item: item, wantErr: true},
		{expr: "(#s = :done", item: item, wantErr: true},
		{expr: "#s = :done extra", item: item, wantErr: true},
		{expr: "#s ! :done", item: item, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			ev := &evaluator{item: tt.item, names: names, values: values}
			got, err := ev.condition(tt.expr)
			if tt.wantErr {
				if err == nil {
					t.Errorf("condition(%q) = %v, want an error", tt.expr, got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("condition(%q) = %v, %v, want %v", tt.expr, got, err, tt.want)
			}
		})
	}
}

func TestUpdate(t *testing.T) {
	names := map[string]string{"#s": "status"}
	values := map[string]Value{":done": S("done"), ":exp": N(999)}
	tests := []struct {
		expr    string
		want    Item
		wantErr bool
	}{
		{
			expr: "SET #s = :done, expiresAt = :exp REMOVE leaseUntil",
			want: Item{"pk": S("k"), "status": S("done"), "expiresAt": N(999)},
		},
		{
			expr: "REMOVE leaseUntil, status",
			want: Item{"pk": S("k")},
		},
		{expr: "SET pk = :done", wantErr: true},
		{expr: "SET #s = :missing", wantErr: true},
		{expr: "ADD counter :exp", wantErr: true},
		{expr: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			item := Item{"pk": S("k"), "status": S("pending"), "leaseUntil": N(100)}
			ev := &evaluator{item: maps.Clone(item), names: names, values: values}
			err := ev.update(tt.expr, item)
			if tt.wantErr {
				if err == nil {
					t.Errorf("update(%q) error = nil", tt.expr)
				}
				return
			}
			if err != nil {
				t.Fatalf("update(%q) error = %v", tt.expr, err)
			}
			if !maps.EqualFunc(item, tt.want, func(a, b Value) bool { return a.String() == b.String() }) {
				t.Errorf("update(%q) = %v, want %v", tt.expr, item, tt.want)
			}
		})
	}
}
