package domain

// Role is what an account may do.
type Role string

// The roles. A staff account acts for one business, named in the account.
const (
	RoleCustomer      Role = "customer"
	RoleBusinessOwner Role = "business_owner"
	RoleStaff         Role = "staff"
	RoleAdmin         Role = "admin"
	RoleAuditor       Role = "auditor"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	switch r {
	case RoleCustomer, RoleBusinessOwner, RoleStaff, RoleAdmin, RoleAuditor:
		return true
	}
	return false
}

// Actor is who issues a command.
type Actor struct {
	ID         string
	Role       Role
	BusinessID string
}

// String identifies the actor in event metadata: "role:id".
func (a Actor) String() string { return string(a.Role) + ":" + a.ID }

// ActsFor reports whether the actor may manage the business owned by owner
// with id business: its owner, its staff, or an admin.
func (a Actor) ActsFor(business, owner string) bool {
	switch a.Role {
	case RoleAdmin:
		return true
	case RoleBusinessOwner:
		return a.ID == owner
	case RoleStaff:
		return a.BusinessID == business
	}
	return false
}

// ReadsEverything reports whether the actor may read every order and event.
func (a Actor) ReadsEverything() bool { return a.Role == RoleAdmin || a.Role == RoleAuditor }
